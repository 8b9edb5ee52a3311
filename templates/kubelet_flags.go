package templates

import (
	"fmt"
	"strings"
)

// kubeletFlags are the command-line flags of the kubelets nodeup pins
// (1.34, 1.35 and 1.36), from their --help, by name without dashes. A
// flag the kubelet deprecated in favour of its config file maps to that
// KubeletConfiguration field (its JSON path); the others map to "".
// Update this table with the pins: a kubelet refuses a flag it lacks and
// does not start.
var kubeletFlags = map[string]string{
	// Command-line only.
	"bootstrap-kubeconfig":                  "",
	"cert-dir":                              "",
	"config":                                "",
	"config-dir":                            "",
	"exit-on-lock-contention":               "",
	"experimental-mounter-path":             "",
	"help":                                  "",
	"hostname-override":                     "",
	"image-credential-provider-bin-dir":     "",
	"image-credential-provider-config":      "",
	"kubeconfig":                            "",
	"lock-file":                             "",
	"log-flush-frequency":                   "",
	"log-json-info-buffer-size":             "",
	"log-json-split-stream":                 "",
	"log-text-info-buffer-size":             "",
	"log-text-split-stream":                 "",
	"node-ip":                               "",
	"node-labels":                           "",
	"root-dir":                              "",
	"runonce":                               "",
	"v":                                     "",
	"version":                               "",
	"vmodule":                               "",
	"cloud-config":                          "",
	"cloud-provider":                        "",
	"minimum-container-ttl-duration":        "",
	"maximum-dead-containers":               "",
	"maximum-dead-containers-per-container": "",
	"experimental-allocatable-ignore-eviction": "",
	"register-schedulable":                     "",

	// Deprecated: KubeletConfiguration fields.
	"address":                                      "address",
	"allowed-unsafe-sysctls":                       "allowedUnsafeSysctls",
	"anonymous-auth":                               "authentication.anonymous.enabled",
	"authentication-token-webhook":                 "authentication.webhook.enabled",
	"authentication-token-webhook-cache-ttl":       "authentication.webhook.cacheTTL",
	"authorization-mode":                           "authorization.mode",
	"authorization-webhook-cache-authorized-ttl":   "authorization.webhook.cacheAuthorizedTTL",
	"authorization-webhook-cache-unauthorized-ttl": "authorization.webhook.cacheUnauthorizedTTL",
	"cgroup-driver":                                "cgroupDriver",
	"cgroup-root":                                  "cgroupRoot",
	"cgroups-per-qos":                              "cgroupsPerQOS",
	"client-ca-file":                               "authentication.x509.clientCAFile",
	"cluster-dns":                                  "clusterDNS",
	"cluster-domain":                               "clusterDomain",
	"container-log-max-files":                      "containerLogMaxFiles",
	"container-log-max-size":                       "containerLogMaxSize",
	"container-log-max-workers":                    "containerLogMaxWorkers",
	"container-log-monitor-interval":               "containerLogMonitorInterval",
	"container-runtime-endpoint":                   "containerRuntimeEndpoint",
	"contention-profiling":                         "enableContentionProfiling",
	"cpu-cfs-quota":                                "cpuCFSQuota",
	"cpu-cfs-quota-period":                         "cpuCFSQuotaPeriod",
	"cpu-manager-policy":                           "cpuManagerPolicy",
	"cpu-manager-policy-options":                   "cpuManagerPolicyOptions",
	"cpu-manager-reconcile-period":                 "cpuManagerReconcilePeriod",
	"enable-controller-attach-detach":              "enableControllerAttachDetach",
	"enable-debugging-handlers":                    "enableDebuggingHandlers",
	"enable-server":                                "enableServer",
	"enforce-node-allocatable":                     "enforceNodeAllocatable",
	"event-burst":                                  "eventBurst",
	"event-qps":                                    "eventRecordQPS",
	"eviction-hard":                                "evictionHard",
	"eviction-max-pod-grace-period":                "evictionMaxPodGracePeriod",
	"eviction-minimum-reclaim":                     "evictionMinimumReclaim",
	"eviction-pressure-transition-period":          "evictionPressureTransitionPeriod",
	"eviction-soft":                                "evictionSoft",
	"eviction-soft-grace-period":                   "evictionSoftGracePeriod",
	"fail-cgroupv1":                                "failCgroupV1",
	"fail-swap-on":                                 "failSwapOn",
	"feature-gates":                                "featureGates",
	"file-check-frequency":                         "fileCheckFrequency",
	"hairpin-mode":                                 "hairpinMode",
	"healthz-bind-address":                         "healthzBindAddress",
	"healthz-port":                                 "healthzPort",
	"http-check-frequency":                         "httpCheckFrequency",
	"image-gc-high-threshold":                      "imageGCHighThresholdPercent",
	"image-gc-low-threshold":                       "imageGCLowThresholdPercent",
	"image-service-endpoint":                       "imageServiceEndpoint",
	"kernel-memcg-notification":                    "kernelMemcgNotification",
	"kube-api-burst":                               "kubeAPIBurst",
	"kube-api-content-type":                        "contentType",
	"kube-api-qps":                                 "kubeAPIQPS",
	"kube-reserved":                                "kubeReserved",
	"kube-reserved-cgroup":                         "kubeReservedCgroup",
	"kubelet-cgroups":                              "kubeletCgroups",
	"local-storage-capacity-isolation":             "localStorageCapacityIsolation",
	"logging-format":                               "logging.format",
	"make-iptables-util-chains":                    "makeIPTablesUtilChains",
	"manifest-url":                                 "staticPodURL",
	"manifest-url-header":                          "staticPodURLHeader",
	"max-open-files":                               "maxOpenFiles",
	"max-pods":                                     "maxPods",
	"memory-manager-policy":                        "memoryManagerPolicy",
	"minimum-image-ttl-duration":                   "imageMinimumGCAge",
	"node-status-max-images":                       "nodeStatusMaxImages",
	"node-status-update-frequency":                 "nodeStatusUpdateFrequency",
	"oom-score-adj":                                "oomScoreAdj",
	"pod-cidr":                                     "podCIDR",
	"pod-infra-container-image":                    "",
	"pod-manifest-path":                            "staticPodPath",
	"pod-max-pids":                                 "podPidsLimit",
	"pods-per-core":                                "podsPerCore",
	"port":                                         "port",
	"protect-kernel-defaults":                      "protectKernelDefaults",
	"provider-id":                                  "providerID",
	"qos-reserved":                                 "qosReserved",
	"read-only-port":                               "readOnlyPort",
	"register-node":                                "registerNode",
	"register-with-taints":                         "registerWithTaints",
	"registry-burst":                               "registryBurst",
	"registry-qps":                                 "registryPullQPS",
	"reserved-cpus":                                "reservedSystemCPUs",
	"reserved-memory":                              "reservedMemory",
	"resolv-conf":                                  "resolvConf",
	"rotate-certificates":                          "rotateCertificates",
	"rotate-server-certificates":                   "serverTLSBootstrap",
	"runtime-cgroups":                              "",
	"runtime-request-timeout":                      "runtimeRequestTimeout",
	"seccomp-default":                              "seccompDefault",
	"serialize-image-pulls":                        "serializeImagePulls",
	"streaming-connection-idle-timeout":            "streamingConnectionIdleTimeout",
	"sync-frequency":                               "syncFrequency",
	"system-cgroups":                               "systemCgroups",
	"system-reserved":                              "systemReserved",
	"system-reserved-cgroup":                       "systemReservedCgroup",
	"tls-cert-file":                                "tlsCertFile",
	"tls-cipher-suites":                            "tlsCipherSuites",
	"tls-min-version":                              "tlsMinVersion",
	"tls-private-key-file":                         "tlsPrivateKeyFile",
	"topology-manager-policy":                      "topologyManagerPolicy",
	"topology-manager-policy-options":              "topologyManagerPolicyOptions",
	"topology-manager-scope":                       "topologyManagerScope",
	"volume-plugin-dir":                            "volumePluginDir",
	"volume-stats-agg-period":                      "volumeStatsAggPeriod",
}

// kubeadmJoinFlags are flags of kubeadm join that people pass the kubelet
// by mistake.
var kubeadmJoinFlags = map[string]bool{
	"token": true, "bootstrap-token": true, "discovery-token": true,
	"discovery-token-ca-cert-hash": true, "discovery-token-unsafe-skip-ca-verification": true,
	"discovery-file": true, "tls-bootstrap-token": true, "control-plane": true,
	"certificate-key": true, "cri-socket": true, "node-name": true,
}

// UnknownFlagError says that kubelet.flags has a flag the kubelet does not.
type UnknownFlagError struct {
	Index int    // in p.Kubelet.Flags
	Flag  string // e.g. --bootstrap-token
	Hint  string // what was probably meant, "" when nothing is known
}

func (e *UnknownFlagError) Error() string {
	msg := fmt.Sprintf("the kubelet (1.34 to 1.36) has no flag %s", e.Flag)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// DeprecatedFlagError says that a kubelet.flags entry is a flag the
// kubelet deprecated in favour of a KubeletConfiguration field.
type DeprecatedFlagError struct {
	Index int
	Flag  string
	Field string // JSON path in KubeletConfiguration
}

func (e *DeprecatedFlagError) Error() string {
	return fmt.Sprintf("the kubelet flag %s is deprecated: set kubelet.config.%s instead", e.Flag, e.Field)
}

// KubeletFlagErrors checks each kubelet.flags entry against the flags of
// the kubelet: one it lacks is an *UnknownFlagError (with a hint for
// kubeadm join's flags), one it deprecated for a config field is a
// *DeprecatedFlagError (a warning: the kubelet still takes it).
func KubeletFlagErrors(flags []string) (unknown, deprecated []error) {
	for i, f := range flags {
		name, _, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		field, ok := kubeletFlags[name]
		switch {
		case !strings.HasPrefix(f, "--"):
			// Reported as a malformed flag.
		case !ok && kubeadmJoinFlags[name]:
			unknown = append(unknown, &UnknownFlagError{Index: i, Flag: "--" + name,
				Hint: "it is a flag of kubeadm join, which is run after nodeup (kubelet.start = false leaves the kubelet to it)"})
		case !ok:
			unknown = append(unknown, &UnknownFlagError{Index: i, Flag: "--" + name})
		case field != "":
			deprecated = append(deprecated, &DeprecatedFlagError{Index: i, Flag: "--" + name, Field: field})
		}
	}
	return unknown, deprecated
}
