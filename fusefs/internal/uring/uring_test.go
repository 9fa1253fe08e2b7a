//go:build linux

package uring

import (
	"slices"
	"testing"
)

func TestCPUCount(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{{"0\n", 1}, {"0-1\n", 2}, {"0-3,8-11", 12}, {"0,2,5", 6}} {
		if got, err := cpuCount(c.in); err != nil || got != c.want {
			t.Errorf("cpuCount(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "x", "0-", "1-y", "-1"} {
		if n, err := cpuCount(bad); err == nil {
			t.Errorf("cpuCount(%q) = %d, want an error", bad, n)
		}
	}
}

func TestNames(t *testing.T) {
	got, ok := names([]byte("old\x00new\x00trailing"), 2)
	if !ok || !slices.Equal(got, []string{"old", "new"}) {
		t.Fatalf("names = %q, %v", got, ok)
	}
	if _, ok := names([]byte("unterminated"), 1); ok {
		t.Fatal("a name without its NUL was accepted")
	}
	if _, ok := names([]byte("one\x00"), 2); ok {
		t.Fatal("one name was taken for two")
	}
}
