/**
 * Tag naming the functions/ module behind a Lambda function: the offline runtime, the tests and
 * the benchmark map functions by it. A leaf module, so readers need not load @pulumi/aws.
 */
export const HANDLER_TAG = "orderflow:handler";
