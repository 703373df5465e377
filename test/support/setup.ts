/**
 * Root setup for the whole mocha run (loaded by .mocharc.json before any spec). Pulumi's mock
 * state is process-global, so it is installed once here; see ./pulumiMocks.ts.
 */
import { installPulumiMocks } from "./pulumiMocks";

installPulumiMocks();
