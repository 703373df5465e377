/**
 * Business metrics as CloudWatch Embedded Metric Format (EMF): fields added to an ordinary JSON
 * log line turn that line into a metric, extracted by CloudWatch Logs from the function's log
 * group at no API cost and with no extra permission
 * ([EMF specification](https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)).
 *
 * Spread the result into the fields of the log line that records the fact:
 * `log.info("order created", { ...orderMetric("OrdersPlaced") })`. The dimension is the function
 * name (set by the Lambda runtime), which carries the stack's name, so stacks sharing an account
 * never mix their counts. Plain data and functions only: handlers are serialized by value.
 */

export const METRIC_NAMESPACE = "Orderflow";
export const METRIC_DIMENSION = "FunctionName";

export type OrderMetricName =
  /** createOrder: a new order was stored (replays are not counted). */
  | "OrdersPlaced"
  /** sendNotification: an order became COMPLETED. */
  | "OrdersCompleted"
  /** compensateOrder: an order became FAILED. */
  | "OrdersFailed"
  /** sweepOrders: non-terminal orders right now (a gauge). */
  | "OrdersInFlight"
  /** sweepOrders: stuck orders the sweeper could not reconcile (a person must look). */
  | "OrdersNeedingAttention";

export type EmfFields = Record<string, unknown>;

export function orderMetric(
  name: OrderMetricName,
  value = 1,
  env: Readonly<Record<string, string | undefined>> = process.env,
  now: () => number = Date.now,
): EmfFields {
  return {
    _aws: {
      Timestamp: now(),
      CloudWatchMetrics: [
        {
          Namespace: METRIC_NAMESPACE,
          Dimensions: [[METRIC_DIMENSION]],
          Metrics: [{ Name: name, Unit: "Count" }],
        },
      ],
    },
    [METRIC_DIMENSION]: env.AWS_LAMBDA_FUNCTION_NAME ?? "local",
    [name]: value,
  };
}
