/**
 * Root setup for the whole mocha run (loaded by .mocharc.json before any spec). Pulumi's mock
 * state is process-global, so it is installed once here, with the dev stack's config.
 */
import { installPulumiMocks } from "../../program/mocks";
import { readStackConfig } from "../../program/stackConfig";

installPulumiMocks(readStackConfig("dev"));
