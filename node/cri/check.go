package cri

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	toml "github.com/pelletier/go-toml/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// callTimeout bounds each CRI call, so a wedged runtime fails a check
// instead of hanging verify.
const callTimeout = 10 * time.Second

// Expect is what the profile says the runtime must offer.
type Expect struct {
	Handlers            []string // runtime handlers that must be registered
	CgroupDriver        string   // systemd | cgroupfs; "" skips the check
	RequireNetworkReady bool     // fail unless NetworkReady
	CNIBinDir           string   // where the CNI plugins are installed
	CNIPlugins          []string // plugin names that must answer VERSION
	// ContainerdConfig is the node path of the config.toml containerd
	// reads: where the cgroup driver is checked when the runtime reports
	// it neither in RuntimeConfig nor in its Status info. "" skips that.
	ContainerdConfig string
	// ReadFile reads a node path (the host's, under its root); nil reads
	// the path as it is.
	ReadFile func(path string) ([]byte, error)
}

// Result is the outcome of one check. A skipped check is OK and says why
// it could not be made.
type Result struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail"`
}

// Report is every check of one verification, in a stable order.
type Report struct {
	Checks []Result `json:"checks"`
}

// OK reports whether every check passed (or was skipped).
func (r Report) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Failed returns the checks that did not pass.
func (r Report) Failed() []Result {
	var out []Result
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Err is nil when the report is OK, else an error naming each failed check.
func (r Report) Err() error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	var parts []string
	for _, c := range failed {
		parts = append(parts, c.Name+": "+c.Detail)
	}
	return fmt.Errorf("verification failed: %s", strings.Join(parts, "; "))
}

// MarshalJSON adds the overall verdict: {"ok":..., "checks":[...]}.
func (r Report) MarshalJSON() ([]byte, error) {
	checks := r.Checks
	if checks == nil {
		checks = []Result{}
	}
	return json.Marshal(struct {
		OK     bool     `json:"ok"`
		Checks []Result `json:"checks"`
	}{r.OK(), checks})
}

// Table writes one aligned line per check: status, name, detail.
func (r Report) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range r.Checks {
		st := "ok"
		switch {
		case c.Skipped:
			st = "skip"
		case !c.OK:
			st = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", st, c.Name, strings.ReplaceAll(c.Detail, "\n", " "))
	}
	return tw.Flush()
}

func (r *Report) add(name string, ok bool, format string, args ...any) {
	r.Checks = append(r.Checks, Result{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

func (r *Report) skip(name, format string, args ...any) {
	r.Checks = append(r.Checks, Result{Name: name, OK: true, Skipped: true, Detail: fmt.Sprintf(format, args...)})
}

// Check runs every verification check against the runtime and the CNI
// plugins. It never stops at the first failure: the report shows them all.
func Check(ctx context.Context, c *Client, e Expect) Report {
	var r Report
	rt := c.Runtime()

	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	v, err := rt.Version(cctx, &runtimeapi.VersionRequest{})
	cancel()
	if err != nil {
		r.add("version", false, "Version: %v", err)
	} else {
		r.add("version", true, "%s %s (CRI %s)", v.GetRuntimeName(), v.GetRuntimeVersion(), v.GetRuntimeApiVersion())
	}

	// Verbose: the runtime's own config in Info is the fallback for
	// runtimes that predate RuntimeHandlers and RuntimeConfig.
	var info runtimeInfo
	cctx, cancel = context.WithTimeout(ctx, callTimeout)
	st, err := rt.Status(cctx, &runtimeapi.StatusRequest{Verbose: true})
	cancel()
	if err != nil {
		r.add("runtime-ready", false, "Status: %v", err)
		r.add("network-ready", !e.RequireNetworkReady, "Status: %v", err)
		for _, h := range e.Handlers {
			r.add(handlerCheck(h), false, "Status: %v", err)
		}
	} else {
		info = parseInfo(st.GetInfo())
		checkConditions(&r, st, e)
		checkHandlers(&r, st, info, e.Handlers)
	}
	if e.CgroupDriver != "" {
		checkCgroupDriver(ctx, &r, rt, info, e)
	}

	r.Checks = append(r.Checks, CheckCNI(ctx, e.CNIBinDir, e.CNIPlugins)...)
	return r
}

func handlerCheck(h string) string { return "handler " + h }

func checkConditions(r *Report, st *runtimeapi.StatusResponse, e Expect) {
	conds := map[string]*runtimeapi.RuntimeCondition{}
	var others []*runtimeapi.RuntimeCondition
	for _, c := range st.GetStatus().GetConditions() {
		conds[c.GetType()] = c
		if c.GetType() != runtimeapi.RuntimeReady && c.GetType() != runtimeapi.NetworkReady {
			others = append(others, c)
		}
	}
	describe := func(c *runtimeapi.RuntimeCondition) string {
		s := strings.TrimSpace(c.GetReason() + ": " + c.GetMessage())
		return strings.Trim(s, ": ")
	}

	if c, ok := conds[runtimeapi.RuntimeReady]; !ok {
		r.add("runtime-ready", false, "Status has no RuntimeReady condition")
	} else if !c.GetStatus() {
		r.add("runtime-ready", false, "not ready: %s", describe(c))
	} else {
		r.add("runtime-ready", true, "ready")
	}

	switch c, ok := conds[runtimeapi.NetworkReady]; {
	case !ok:
		r.add("network-ready", !e.RequireNetworkReady, "Status has no NetworkReady condition")
	case c.GetStatus():
		r.add("network-ready", true, "ready")
	case e.RequireNetworkReady:
		r.add("network-ready", false, "not ready: %s", describe(c))
	default:
		r.add("network-ready", true, "not ready (not required): %s", describe(c))
	}

	// Other conditions (containerd's deprecation warnings) inform, never fail.
	for _, c := range others {
		if !c.GetStatus() {
			r.add("condition", true, "warning: %s is false: %s", c.GetType(), describe(c))
		}
	}
}

func checkHandlers(r *Report, st *runtimeapi.StatusResponse, info runtimeInfo, want []string) {
	listed := map[string]bool{}
	for _, h := range st.GetRuntimeHandlers() {
		listed[h.GetName()] = true
	}
	source := "Status runtime handlers"
	if len(listed) == 0 && len(info.Runtimes) > 0 {
		// containerd < 2.0 does not fill RuntimeHandlers; its config does list them.
		source = "runtimes in the runtime's Status info"
		for name := range info.Runtimes {
			listed[name] = true
		}
	}
	var have []string
	for n := range listed {
		if n != "" {
			have = append(have, n)
		}
	}
	sort.Strings(have)
	for _, h := range want {
		switch {
		case listed[h]:
			r.add(handlerCheck(h), true, "registered (%s)", source)
		case len(have) == 0:
			r.add(handlerCheck(h), false, "the runtime lists no handlers")
		default:
			r.add(handlerCheck(h), false, "not registered; the runtime has: %s", strings.Join(have, ", "))
		}
	}
}

func checkCgroupDriver(ctx context.Context, r *Report, rt runtimeapi.RuntimeServiceClient, info runtimeInfo, e Expect) {
	const name = "cgroup-driver"
	want := strings.ToLower(e.CgroupDriver)
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	resp, err := rt.RuntimeConfig(cctx, &runtimeapi.RuntimeConfigRequest{})
	cancel()
	if err == nil {
		got := strings.ToLower(resp.GetLinux().GetCgroupDriver().String())
		r.add(name, got == want, "RuntimeConfig says %s, want %s", got, want)
		return
	}
	if status.Code(err) != codes.Unimplemented {
		r.add(name, false, "RuntimeConfig: %v", err)
		return
	}
	if got, from, ok := info.cgroupDriver(); ok {
		r.add(name, got == want, "RuntimeConfig not implemented by the runtime; %s says %s, want %s", from, got, want)
		return
	}
	const unreported = "RuntimeConfig not implemented by the runtime and its Status info has no runc options"
	if e.ContainerdConfig == "" {
		r.skip(name, "%s; no config file to check", unreported)
		return
	}
	read := e.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	data, err := read(e.ContainerdConfig)
	if err != nil {
		r.add(name, false, "%s; reading %s: %v", unreported, e.ContainerdConfig, err)
		return
	}
	got, from, err := configCgroupDriver(data)
	if err != nil {
		r.add(name, false, "%s; %s: %v", unreported, e.ContainerdConfig, err)
		return
	}
	r.add(name, got == want, "%s; %s sets %s: %s, want %s", unreported, e.ContainerdConfig, from, got, want)
}

// configCgroupDriver derives the cgroup driver from containerd's config
// file: the SystemdCgroup option of its runc handlers (every schema puts
// the CRI runtimes under one of two plugin tables). Handlers that disagree
// with each other are an error.
func configCgroupDriver(data []byte) (driver, from string, err error) {
	var cfg struct {
		Plugins map[string]struct {
			Containerd struct {
				Runtimes map[string]struct {
					Type    string         `toml:"runtime_type"`
					Options map[string]any `toml:"options"`
				} `toml:"runtimes"`
			} `toml:"containerd"`
		} `toml:"plugins"`
	}
	if err := toml.Unmarshal(data, &cfg); err != nil {
		return "", "", fmt.Errorf("not TOML: %v", err)
	}
	var handlers []string
	drivers := map[string]bool{}
	for _, plugin := range []string{"io.containerd.cri.v1.runtime", "io.containerd.grpc.v1.cri"} {
		for name, rt := range cfg.Plugins[plugin].Containerd.Runtimes {
			if !strings.HasPrefix(rt.Type, "io.containerd.runc.") {
				continue
			}
			systemd, _ := rt.Options["SystemdCgroup"].(bool)
			handlers = append(handlers, fmt.Sprintf("runtime %q SystemdCgroup=%v", name, systemd))
			drivers[map[bool]string{true: "systemd", false: "cgroupfs"}[systemd]] = true
		}
	}
	sort.Strings(handlers)
	switch len(drivers) {
	case 0:
		return "", "", errors.New("no runc handler to read the cgroup driver from")
	case 1:
		for d := range drivers {
			return d, strings.Join(handlers, ", "), nil
		}
	}
	return "", "", fmt.Errorf("runc handlers disagree: %s", strings.Join(handlers, ", "))
}

// runtimeInfo is the part of containerd's verbose Status info["config"]
// nodeup reads: the CRI plugin's runtimes.
type runtimeInfo struct {
	DefaultRuntime string
	Runtimes       map[string]runtimeEntry
}

type runtimeEntry struct {
	Type    string         `json:"runtimeType"`
	Options map[string]any `json:"options"`
}

func parseInfo(info map[string]string) runtimeInfo {
	var cfg struct {
		Containerd struct {
			DefaultRuntimeName string                  `json:"defaultRuntimeName"`
			Runtimes           map[string]runtimeEntry `json:"runtimes"`
		} `json:"containerd"`
	}
	if raw, ok := info["config"]; ok {
		_ = json.Unmarshal([]byte(raw), &cfg) // not containerd, or another shape: no fallback
	}
	return runtimeInfo{DefaultRuntime: cfg.Containerd.DefaultRuntimeName, Runtimes: cfg.Containerd.Runtimes}
}

// cgroupDriver derives the driver from the default runc runtime's
// SystemdCgroup option, as the kubelet would have to match it.
func (i runtimeInfo) cgroupDriver() (driver, from string, ok bool) {
	rt, found := i.Runtimes[i.DefaultRuntime]
	if !found || !strings.HasPrefix(rt.Type, "io.containerd.runc.") || rt.Options == nil {
		return "", "", false
	}
	systemd, _ := rt.Options["SystemdCgroup"].(bool)
	from = fmt.Sprintf("runtime %q SystemdCgroup=%v in Status info", i.DefaultRuntime, systemd)
	if systemd {
		return "systemd", from, true
	}
	return "cgroupfs", from, true
}

// CheckCNI asks each plugin binary in binDir for its CNI VERSION. A
// missing, non-executable or broken binary fails with its path.
func CheckCNI(ctx context.Context, binDir string, plugins []string) []Result {
	var out []Result
	exec := &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: io.Discard}}
	for _, p := range plugins {
		name := "cni " + p
		if !filepath.IsAbs(binDir) {
			out = append(out, Result{Name: name, Detail: fmt.Sprintf("CNI bin dir %q is not an absolute path", binDir)})
			continue
		}
		path := filepath.Join(binDir, p)
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			out = append(out, Result{Name: name, Detail: fmt.Sprintf("%s: %v", path, unwrapPathError(err))})
			continue
		case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
			out = append(out, Result{Name: name, Detail: fmt.Sprintf("%s: not an executable file (mode %s)", path, fi.Mode())})
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		info, err := invoke.GetVersionInfo(cctx, path, exec)
		cancel()
		if err != nil {
			out = append(out, Result{Name: name, Detail: fmt.Sprintf("%s VERSION: %v", path, err)})
			continue
		}
		out = append(out, Result{Name: name, OK: true, Detail: fmt.Sprintf("%s supports CNI %s", path, strings.Join(info.SupportedVersions(), ", "))})
	}
	return out
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
