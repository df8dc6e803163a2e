package curtinhook

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeCurtin is a stand-in for the parts of curtin's Python API the hook
// uses. Each function records its arguments in $FAKE_CURTIN_RECORD, as a
// JSON object keyed by function name; builtin_curthooks also records
// whether /curtin still existed when it ran, and fails on request.
var fakeCurtin = map[string]string{
	"curtin/__init__.py":          "",
	"curtin/commands/__init__.py": "",
	"curtin/record.py": `import json, os

def record(name, value):
    path = os.environ["FAKE_CURTIN_RECORD"]
    data = {}
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
    data[name] = value
    with open(path, "w") as f:
        json.dump(data, f)
`,
	"curtin/util.py": `import os
from curtin.record import record

def load_command_environment(env=os.environ, strict=False):
    mapping = {"scratch": "WORKING_DIR", "fstab": "OUTPUT_FSTAB",
               "config": "CONFIG", "target": "TARGET_MOUNT_POINT",
               "network_config": "OUTPUT_NETWORK_CONFIG"}
    state = {k: env.get(v) for k, v in mapping.items()}
    record("load_command_environment", state)
    return state
`,
	"curtin/config.py": `import json
from curtin.record import record

def load_command_config(args, state):
    record("load_command_config", {"args.config": args.config, "state": state})
    with open(state["config"]) as f:
        return json.load(f)
`,
	"curtin/commands/curthooks.py": `import os
from curtin.record import record

def builtin_curthooks(cfg, target, state):
    record("builtin_curthooks", {"cfg": cfg, "target": target, "state": state,
        "curtin_dir_existed": os.path.isdir(os.path.join(target, "curtin"))})
    if os.environ.get("FAKE_CURTIN_FAIL"):
        raise RuntimeError("builtin curthooks failed")
`,
}

type hookRun struct {
	target  string
	record  map[string]json.RawMessage
	output  string
	exitErr error
}

// runUbuntuHook installs the built-in hook into a fake target (with
// customKernel in /curtin/CUSTOM_KERNEL unless it is ""), and runs it with
// python3 the way curtin does: the hook file executed, curtin importable,
// curtin's environment set.
func runUbuntuHook(t *testing.T, customKernel string, cfg map[string]any, extraEnv ...string) hookRun {
	t.Helper()
	python := python3(t)
	dir := t.TempDir()
	lib := filepath.Join(dir, "lib")
	for name, content := range fakeCurtin {
		writeFile(t, filepath.Join(lib, name), content, 0o644)
	}
	target := filepath.Join(dir, "target")
	hook := filepath.Join(target, "curtin", HookName)
	writeFile(t, hook, string(UbuntuHook()), HookMode)
	if customKernel != "" {
		writeFile(t, filepath.Join(target, "curtin", CustomKernelName), customKernel, DataMode)
	}
	cfgJSON, err := json.Marshal(cfg)
	require.NoError(t, err)
	configPath := filepath.Join(dir, "config.json")
	writeFile(t, configPath, string(cfgJSON), 0o644)
	recordPath := filepath.Join(dir, "record.json")

	// The hook's shebang is #!/usr/bin/env python3: put the python3 found
	// first on PATH, as the ephemeral Ubuntu's would be.
	cmd := exec.Command(hook)
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(python)+":"+os.Getenv("PATH"),
		"PYTHONPATH="+lib,
		"PYTHONDONTWRITEBYTECODE=1",
		"FAKE_CURTIN_RECORD="+recordPath,
		"TARGET_MOUNT_POINT="+target,
		"CONFIG="+configPath,
		"OUTPUT_FSTAB="+filepath.Join(dir, "state", "fstab"),
		"OUTPUT_NETWORK_CONFIG="+filepath.Join(dir, "state", "network_config"),
		"WORKING_DIR="+filepath.Join(dir, "scratch"),
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	out, runErr := cmd.CombinedOutput()
	run := hookRun{target: target, output: string(out), exitErr: runErr}
	if data, err := os.ReadFile(recordPath); err == nil {
		require.NoError(t, json.Unmarshal(data, &run.record), "record: %s", data)
	}
	return run
}

// python3 returns Debian's python3 when there is one: a version manager's
// shim found first on PATH starts many times slower.
func python3(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(debianPython3); err == nil {
		return debianPython3
	}
	path, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 is needed to run the hook (Debian package python3)")
	return path
}

const debianPython3 = "/usr/bin/python3"

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
	require.NoError(t, os.Chmod(path, mode))
}

type curthooksCall struct {
	Cfg              map[string]any `json:"cfg"`
	Target           string         `json:"target"`
	State            map[string]any `json:"state"`
	CurtinDirExisted bool           `json:"curtin_dir_existed"`
}

func (r hookRun) curthooks(t *testing.T) curthooksCall {
	t.Helper()
	raw, ok := r.record["builtin_curthooks"]
	require.True(t, ok, "the hook did not call builtin_curthooks; output:\n%s", r.output)
	var call curthooksCall
	require.NoError(t, json.Unmarshal(raw, &call))
	return call
}

// maasConfig is the shape of the kernel config MAAS hands curtin.
func maasConfig() map[string]any {
	return map[string]any{
		"kernel":  map[string]any{"fallback_package": "linux-generic", "mapping": map[string]any{}},
		"install": map[string]any{"log_file": "/tmp/install.log"},
	}
}

func TestUbuntuHookWithoutCustomKernelPassesCurtinsConfig(t *testing.T) {
	run := runUbuntuHook(t, "", maasConfig())
	require.NoError(t, run.exitErr, run.output)
	call := run.curthooks(t)
	assert.Equal(t, maasConfig(), call.Cfg, "without CUSTOM_KERNEL the config goes to curtin unchanged")
	assert.Equal(t, run.target, call.Target)
	assert.Equal(t, run.target, call.State["target"], "the state is curtin's environment")
	assert.NotEmpty(t, call.State["fstab"])
	assert.True(t, call.CurtinDirExisted, "/curtin must stay while curtin's hooks run")
	assert.NoDirExists(t, filepath.Join(run.target, "curtin"), "the hook removes /curtin from the target")

	var cfgCall struct {
		ArgsConfig any `json:"args.config"`
	}
	require.NoError(t, json.Unmarshal(run.record["load_command_config"], &cfgCall))
	assert.Nil(t, cfgCall.ArgsConfig, "no command-line config: curtin's CONFIG file is used")
}

func TestUbuntuHookAsksCurtinForTheCustomKernel(t *testing.T) {
	run := runUbuntuHook(t, "linux-image-lowlatency\n", maasConfig())
	require.NoError(t, run.exitErr, run.output)
	call := run.curthooks(t)
	assert.Equal(t, map[string]any{
		"package":          "linux-image-lowlatency",
		"fallback_package": "linux-generic",
		"mapping":          map[string]any{},
	}, call.Cfg["kernel"])
	assert.Equal(t, maasConfig()["install"], call.Cfg["install"], "the rest of the config is untouched")
	assert.Contains(t, run.output, "installing kernel package linux-image-lowlatency")
	assert.NoDirExists(t, filepath.Join(run.target, "curtin"))
}

func TestUbuntuHookCustomKernelWhenCurtinHasNoKernelConfig(t *testing.T) {
	for name, cfg := range map[string]map[string]any{
		"no kernel key": {"install": map[string]any{}},
		"kernel: null":  {"kernel": nil},
	} {
		t.Run(name, func(t *testing.T) {
			run := runUbuntuHook(t, "linux-image-cloud-amd64", cfg)
			require.NoError(t, run.exitErr, run.output)
			assert.Equal(t, map[string]any{"package": "linux-image-cloud-amd64"}, run.curthooks(t).Cfg["kernel"])
		})
	}
}

func TestUbuntuHookEmptyCustomKernelIsNone(t *testing.T) {
	run := runUbuntuHook(t, " \n", maasConfig())
	require.NoError(t, run.exitErr, run.output)
	assert.Equal(t, maasConfig(), run.curthooks(t).Cfg)
}

func TestUbuntuHookFailureKeepsCurtinAndFails(t *testing.T) {
	run := runUbuntuHook(t, "linux-image-lowlatency", maasConfig(), "FAKE_CURTIN_FAIL=1")
	require.Error(t, run.exitErr, "a failing builtin_curthooks must fail the hook, so curtin fails the deployment")
	assert.Contains(t, run.output, "builtin curthooks failed")
	assert.DirExists(t, filepath.Join(run.target, "curtin"), "kept for a look at what failed")
}

func TestUbuntuHookOutsideCurtinSaysSo(t *testing.T) {
	run := runUbuntuHook(t, "", maasConfig(), "TARGET_MOUNT_POINT=")
	require.Error(t, run.exitErr)
	assert.Contains(t, run.output, "TARGET_MOUNT_POINT is not set")
	assert.NotContains(t, run.record, "builtin_curthooks")
}

func TestUbuntuHookIsPython3AndReturnsACopy(t *testing.T) {
	hook := UbuntuHook()
	assert.True(t, strings.HasPrefix(string(hook), "#!/usr/bin/env python3\n"))
	hook[0] = 'X'
	assert.Equal(t, byte('#'), UbuntuHook()[0], "callers must not be able to change the embedded hook")
}
