package generalize

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeleteBuildUser runs the userdel part under dash and bash with a
// stand-in userdel: the warning about the build user's own SSH session is
// dropped, every other message shows, and a failure stops the script with
// userdel's exit status and all its output.
func TestDeleteBuildUser(t *testing.T) {
	busy := "userdel: user builder is currently used by process 1234"
	other := "userdel: group builder not removed because it has other members."
	for _, tc := range []struct {
		name     string
		printed  string // by userdel, on stderr
		exitCode int
		wantOut  string
		wantExit int
	}{
		{"silent", "", 0, "after\n", 0},
		{"own session", busy, 0, "after\n", 0},
		{"another message", busy + "\n" + other, 0, other + "\nafter\n", 0},
		{"another user's process", "userdel: user builder2 is currently used by process 1", 0, "userdel: user builder2 is currently used by process 1\nafter\n", 0},
		{"failure", busy + "\nuserdel: cannot open /etc/passwd", 10, busy + "\nuserdel: cannot open /etc/passwd\n", 10},
	} {
		for _, shell := range shells {
			t.Run(tc.name+"/"+shell, func(t *testing.T) {
				g := newGuest(t, nil)
				message := filepath.Join(g.bin, "message")
				require.NoError(t, os.WriteFile(message, []byte(tc.printed), 0o644))
				stub := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"LC_ALL=$LC_ALL $*\" >> %s\ncat %s >&2\nexit %d\n", g.calls, message, tc.exitCode)
				require.NoError(t, os.WriteFile(filepath.Join(g.bin, "userdel"), []byte(stub), 0o755))
				lib, err := library(Settings{User: "builder", Root: g.root})
				require.NoError(t, err)
				out, code := g.run(t, shell, lib+"\ndelete_build_user\necho after\n")
				assert.Equal(t, tc.wantExit, code)
				assert.Equal(t, tc.wantOut, out)
				assert.Equal(t, []string{"LC_ALL=C -f builder"}, g.called(t), "userdel runs once, untranslated, forced")
			})
		}
	}
}

// TestRemoveProxies runs the proxy part under dash and bash on the build's
// /etc/environment and apt proxy file: the lines the build added go, the
// image's own stay (a proxy of its own included), in order, and nothing
// happens without proxies.
func TestRemoveProxies(t *testing.T) {
	own := "PATH=\"/usr/local/bin:/usr/bin\"\nHTTP_PROXY=http://site-proxy:8080\n"
	added := strings.Join(proxyLines, "\n") + "\n"
	for _, tc := range []struct {
		name, environment, want string
		lines                   []string
	}{
		{"around the image's own", own + added, own, proxyLines},
		{"in order", "A=1\nhttp_proxy=http://p:3128\nB=2\n", "A=1\nB=2\n", proxyLines},
		{"only the build's", added, "", proxyLines},
		{"nothing to remove", own, own, proxyLines},
		{"a quote in a proxy", "A=1\nhttp_proxy=http://u'x@p:3128\n", "A=1\n", []string{"http_proxy=http://u'x@p:3128"}},
		{"no proxies", own + added, own + added, nil},
	} {
		for _, shell := range shells {
			t.Run(tc.name+"/"+shell, func(t *testing.T) {
				apt := strings.TrimPrefix(proxyFile, "/")
				g := newGuest(t, map[string]string{"etc/environment": tc.environment, apt: "Acquire::http::Proxy \"http://p:3128\";\n"})
				lib, err := library(Settings{User: "builder", ProxyLines: tc.lines, ProxyFile: proxyFile, Root: g.root})
				require.NoError(t, err)
				out, code := g.run(t, shell, lib+"\nremove_proxies\n")
				require.Equal(t, 0, code, out)
				assert.Equal(t, tc.want, g.read(t, "etc/environment"))
				assert.Equal(t, "-rw-r-----", g.mode(t, "etc/environment"), "/etc/environment keeps its mode")
				there, _ := g.exists(apt)
				assert.Equal(t, tc.lines == nil, there, "apt's proxy file goes with the proxies")
				there, _ = g.exists("etc/environment.packer-maas")
				assert.False(t, there, "no temporary file is left")
			})
		}
	}
}

// TestScriptRefusesBadSettings checks the settings that could not be
// written as the script expects them.
func TestScriptRefusesBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Settings
		want string
	}{
		{"user", Settings{User: "a b"}, `build user "a b" is not a user name`},
		{"rule", Settings{User: "b", Skip: []string{"x y"}}, `rule "x y" is not a rule name`},
		{"relative root", Settings{User: "b", Root: "fake"}, `root "fake" must be an absolute directory`},
		{"slash root", Settings{User: "b", Root: "/"}, `root "/" must be an absolute directory other than /`},
		{"proxy file", Settings{User: "b", ProxyLines: []string{"a=b"}}, "the proxy file must be an absolute path"},
		{"proxy line", Settings{User: "b", ProxyLines: []string{"a=b\nc=d"}, ProxyFile: "/p"}, "must be one non-empty line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Script(tc.s)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
