import * as pulumi from "@pulumi/pulumi";
import * as kubernetes from "@pulumi/kubernetes";
import * as platform from "@acme/platform";

const config = new pulumi.Config();

// The cluster: every component takes its provider explicitly.
const cluster = new kubernetes.Provider("cluster", {
    kubeconfig: config.require("kubeconfig"),
});

const greeter = new platform.workload.Workload("greeter", {
    // The profile of defaults (dev, prod or local), as in the Go program.
    environment: "local",
    name: "greeter-ts",
    version: "0.1.0",
    image: config.require("image"),
    env: { GREETING: "Hello from TypeScript" },
    // Read from this program's secret config (greeter-ts:apiToken).
    secretEnv: { GREETER_API_TOKEN: "apiToken" },
    placement: {
        nodeSelector: { type: "real" },
        tolerations: [{ key: "platform.acme.io/real-node", operator: "Exists", effect: "NoSchedule" }],
    },
}, { providers: [cluster] });

export const namespace = greeter.namespace;
export const serviceDns = greeter.serviceDns;
