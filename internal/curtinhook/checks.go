package curtinhook

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/lines"
)

// Names of the readiness checks, as `skip_checks` takes them.
const (
	CheckCloudInit       = "cloud-init"
	CheckNetplan         = "netplan"
	CheckHookExecutable  = "hook-executable"
	CheckHookInterpreter = "hook-interpreter"
	CheckHookCompiles    = "hook-compiles"
	CheckKernelInstalled = "kernel-installed"
	CheckKernelKept      = "kernel-kept"
)

// Checks lists every check, in the order the script runs them.
var Checks = []string{
	CheckCloudInit, CheckNetplan, CheckHookExecutable, CheckHookInterpreter,
	CheckHookCompiles, CheckKernelInstalled, CheckKernelKept,
}

// ValidateSkipChecks checks a `skip_checks` setting.
func ValidateSkipChecks(names []string) error {
	for _, name := range names {
		if !slices.Contains(Checks, name) {
			return fmt.Errorf("skip_checks: %q is not a check; the checks are %s", name, strings.Join(Checks, ", "))
		}
	}
	return nil
}

// GeneratedRemoveKernel is the generated-data key by which maas-rootfs
// tells the provisioners that remove_kernel removes the image's kernel
// after them.
const GeneratedRemoveKernel = "MAASRemoveKernel"

// Status is a check's outcome.
type Status string

// The outcomes a check can have.
const (
	StatusOK     Status = "ok"
	StatusFail   Status = "fail"   // the image will not deploy
	StatusWarn   Status = "warn"   // it deploys, maybe not as meant
	StatusSkip   Status = "skip"   // does not apply, or could not run
	StatusWaived Status = "waived" // in skip_checks
)

// Params are the check script's inputs.
type Params struct {
	Root          string   // the image's root directory: "" in the guest
	CustomKernel  string   // custom_kernel
	InstallKernel bool     // install_kernel
	Waived        []string // skip_checks
	// KernelRemovedLater says the build removes the image's kernel after
	// the provisioners (maas-rootfs's remove_kernel), so kernel-kept has
	// nothing to warn about.
	KernelRemovedLater bool
}

//go:embed checks.sh
var checksBody string

// CheckScript returns the readiness-check script for p: a POSIX sh script
// to run as root (it reads /curtin/curtin-hooks, which only root may). Its
// output is for ParseResults.
func CheckScript(p Params) string {
	flag := map[bool]string{false: "0", true: "1"}
	return fmt.Sprintf("ROOT=%s\nKERNEL=%s\nINSTALL_KERNEL=%s\nKERNEL_REMOVED_LATER=%s\nWAIVED=%s\n%s",
		ShellQuote(p.Root), ShellQuote(p.CustomKernel), flag[p.InstallKernel], flag[p.KernelRemovedLater],
		ShellQuote(strings.Join(p.Waived, " ")), checksBody)
}

// Result is one check's outcome.
type Result struct {
	Check  string
	Status Status
	Detail string // what the script saw: a path, the shebang, a compiler error
}

const (
	maxDetail    = 400 // bytes of a result's detail kept for messages
	resultPrefix = "MAAS-CHECK\t"
	endLine      = resultPrefix + "end"
)

// ParseResults reads the check script's output: one result per check, in
// the order of Checks. Lines without the script's prefix (a login banner,
// sudo's chatter) are ignored.
func ParseResults(out string) ([]Result, error) {
	var results []Result
	ended := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if !strings.HasPrefix(line, resultPrefix) {
			continue
		}
		if ended {
			return nil, fmt.Errorf("check script printed %q after its end line", line)
		}
		if line == endLine {
			ended = true
			continue
		}
		r, err := parseResult(line)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(results, func(seen Result) bool { return seen.Check == r.Check }) {
			return nil, fmt.Errorf("check script reported %s twice", r.Check)
		}
		results = append(results, r)
	}
	if !ended {
		return nil, fmt.Errorf("check script stopped before its end line; its output was:\n%s", lines.Last(out, 20))
	}
	if len(results) != len(Checks) {
		return nil, fmt.Errorf("check script reported %d checks, not the %d there are", len(results), len(Checks))
	}
	slices.SortFunc(results, func(a, b Result) int {
		return slices.Index(Checks, a.Check) - slices.Index(Checks, b.Check)
	})
	return results, nil
}

func parseResult(line string) (Result, error) {
	fields := strings.SplitN(strings.TrimPrefix(line, resultPrefix), "\t", 3)
	if len(fields) != 3 {
		return Result{}, fmt.Errorf("check script printed a malformed result %q", line)
	}
	detail := strings.TrimSpace(fields[2])
	if len(detail) > maxDetail {
		detail = strings.ToValidUTF8(detail[:maxDetail], "") + "..."
	}
	r := Result{Check: fields[0], Status: Status(fields[1]), Detail: detail}
	if !slices.Contains(Checks, r.Check) {
		return Result{}, fmt.Errorf("check script reported an unknown check %q", r.Check)
	}
	switch r.Status {
	case StatusOK, StatusFail, StatusWarn, StatusSkip, StatusWaived:
	default:
		return Result{}, fmt.Errorf("check script reported %s with an unknown status %q", r.Check, r.Status)
	}
	return r, nil
}

// Problem says what a failed or warning result means and how to fix it;
// it is "" for the other outcomes.
func (r Result) Problem() string {
	if r.Status != StatusFail && r.Status != StatusWarn {
		return ""
	}
	waive := fmt.Sprintf(" (or waive this check: skip_checks = [%q])", r.Check)
	switch r.Check {
	case CheckCloudInit:
		return "the image has no cloud-init: MAAS configures a deployed machine through cloud-init and " +
			"fails deployments without it. Install the cloud-init package" + waive
	case CheckNetplan:
		return "this Ubuntu image has no netplan: MAAS writes an Ubuntu machine's network configuration " +
			"for netplan. Install the netplan.io package" + waive
	case CheckHookExecutable:
		return fmt.Sprintf("%s is not an executable file (%s), so curtin will not run it: "+
			"make it a regular file with mode 0750", HookPath, r.Detail) + waive
	case CheckHookInterpreter:
		return fmt.Sprintf("%s starts with %q: curtin runs the hook on MAAS's ephemeral Ubuntu, "+
			"which has python3, bash and sh; start it with #!/usr/bin/env python3, #!/bin/bash or #!/bin/sh "+
			"(and Unix line endings)", HookPath, r.Detail) + waive
	case CheckHookCompiles:
		return fmt.Sprintf("%s is not valid Python 3: %s", HookPath, r.Detail) + waive
	case CheckKernelInstalled:
		return "install_kernel is set but the kernel package is not installed in the image (" + r.Detail + ")" + waive
	case CheckKernelKept:
		return fmt.Sprintf("the image holds a kernel (%s) but no %s/%s: MAAS will install its own kernel "+
			"on deploy. Set custom_kernel to the package to keep", r.Detail, Dir, CustomKernelName) + waive
	}
	return r.Detail
}
