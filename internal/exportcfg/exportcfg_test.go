package exportcfg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/tarball"
)

func TestOptions(t *testing.T) {
	hook := filepath.Join(t.TempDir(), "hook")
	require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\n"), 0o644))
	tb := Tarball{
		SkipGeneralize: []string{RuleSSHHostKeys, RuleCloudInitLogs},
		Exclude:        []string{"/var/cache/apt/*.bin"},
		Include:        []IncludeFile{{Source: hook, Destination: "/curtin/curtin-hooks", Mode: "0750", UID: 1}},
		ClampMtime:     "2026-01-01T00:00:00Z",
	}
	require.Empty(t, tb.Validate(TarRules))
	opts := tb.Options()
	assert.True(t, opts.Generalize.EmptyMachineID)
	assert.True(t, opts.Generalize.RemoveCloudInitState)
	assert.False(t, opts.Generalize.RemoveCloudInitLogs)
	assert.False(t, opts.Generalize.RemoveSSHHostKeys)
	assert.Equal(t, []string{"/var/cache/apt/*.bin"}, opts.Exclude)
	require.Len(t, opts.Include, 1)
	assert.Equal(t, uint32(0o750), opts.Include[0].Mode)
	assert.Equal(t, uint32(1), opts.Include[0].UID)
	require.NotNil(t, opts.ClampMtime)
	assert.True(t, opts.ClampMtime.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, []string{"skip_generalize", "exclude", "include", "clamp_mtime"}, tb.InUse())
}

// TestOptionsSkipEachRuleByName checks that every rule name turns off its
// own switch and no other.
func TestOptionsSkipEachRuleByName(t *testing.T) {
	all := (&Tarball{}).Options().Generalize
	require.Equal(t, tarball.DefaultGeneralize(), all)
	off := map[string]func(*tarball.Generalize){
		RuleMachineID:      func(g *tarball.Generalize) { g.EmptyMachineID = false },
		RuleCloudInitState: func(g *tarball.Generalize) { g.RemoveCloudInitState = false },
		RuleCloudInitLogs:  func(g *tarball.Generalize) { g.RemoveCloudInitLogs = false },
		RuleSSHHostKeys:    func(g *tarball.Generalize) { g.RemoveSSHHostKeys = false },
		RuleHostname:       func(g *tarball.Generalize) { g.EmptyHostname = false },
		RuleLoginRecords:   func(g *tarball.Generalize) { g.EmptyLoginRecords = false },
		RuleJournal:        func(g *tarball.Generalize) { g.RemoveJournal = false },
		RuleRandomSeed:     func(g *tarball.Generalize) { g.RemoveRandomSeed = false },
		RuleNetworkConfig:  func(g *tarball.Generalize) { g.RemoveNetworkConfig = false },
	}
	require.Len(t, TarRules, len(off))
	for _, rule := range TarRules {
		tb := Tarball{SkipGeneralize: []string{rule}}
		require.Empty(t, tb.Validate(TarRules))
		want := tarball.DefaultGeneralize()
		off[rule](&want)
		assert.Equal(t, want, tb.Options().Generalize, "skip_generalize = [%q]", rule)
	}
}

func TestValidateNamesEachMistake(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(src, nil, 0o644))
	tb := Tarball{
		SkipGeneralize: []string{"custom"},
		Exclude:        []string{"relative", "/a//b", "/[x"},
		Include: []IncludeFile{
			{Source: src, Destination: "/a"},
			{Source: src, Destination: "/a/b"},
			{Source: dir, Destination: "/c"},
			{Source: src, Destination: "/d", Mode: "999"},
			{Source: src, Destination: "/a"},
		},
		ClampMtime: "2026",
	}
	var msgs []string
	for _, err := range tb.Validate(TarRules) {
		msgs = append(msgs, err.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		`skip_generalize: unknown rule "custom"`, `exclude "relative" must be an absolute`, `exclude "/a//b" has an empty path segment`,
		`exclude "/[x"`, "destination /a/b lies below include 1's file /a", "is not a regular file", `mode "999" is not octal`,
		"destination /a is already that of include 1", `clamp_mtime "2026"`,
	} {
		assert.Contains(t, all, want)
	}
	assert.Empty(t, (&Tarball{SkipGeneralize: []string{"custom"}}).Validate(append(TarRules, "custom")), "callers may add rules of their own")
}

// TestValidateAcceptsWhatTheTarWriterAccepts: exclude and include
// destinations are checked by the tar writer's own rules, so packer
// validate refuses what the export would (a NUL in a destination passed
// validate before), and callers tell the mistakes apart with errors.Is.
func TestValidateAcceptsWhatTheTarWriterAccepts(t *testing.T) {
	src := filepath.Join(t.TempDir(), "hook")
	require.NoError(t, os.WriteFile(src, []byte("#!/bin/sh\n"), 0o644))
	errs := (&Tarball{Exclude: []string{"var/log"}}).Validate(TarRules)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], tarball.ErrExclude)
	assert.Equal(t, tarball.CheckExclude("var/log").Error(), errs[0].Error())

	errs = (&Tarball{Include: []IncludeFile{{Source: src, Destination: "/curtin/a\x00b"}}}).Validate(TarRules)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], tarball.ErrIncludeDestination)
	assert.Contains(t, errs[0].Error(), "include 1: destination")
	assert.Contains(t, errs[0].Error(), "NUL")
}
