package main

import (
	"errors"
	"strings"
	"testing"
)

func TestExpandO(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"c m -o passfile=/x,allow_other,nofail", "c m -passfile=/x -allow_other"},
		{"c m -o rw,_netdev,noauto,auto,user,users,defaults,x-systemd.automount,comment=foo,q", "c m -rw -q"},
		{"-o=ro,,dev c m", "-ro -dev c m"},
		{"--o ro c m", "-ro c m"},
		{"c m -- -o ro", "c m -- -o ro"},
		{"-q c m", "-q c m"},
	} {
		got, err := expandO(strings.Fields(tc.in))
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, strings.Join(got, " "), tc.want)
		}
	}
	for _, bad := range []string{"c m -o", "c m -o o=x", "-o a,-o"} {
		if _, err := expandO(strings.Fields(bad)); !errors.Is(err, errUsage) {
			t.Errorf("%q: err %v, want a usage error", bad, err)
		}
	}
}

func TestTranslateGocryptfs(t *testing.T) {
	for _, tc := range []struct {
		in, cmd, args string
	}{
		{"-init -q -scryptn 10 v", "init", "-q -scryptn 10 v"},
		{"--init v -passfile pw", "init", "v -passfile pw"},
		{"-init -reverse -aessiv p", "init", "-reverse -aessiv p"},
		{"-passwd -passfile pw v", "passwd", "-passfile pw v"},
		{"-info v", "info", "v"},
		// No-op options info does not know are dropped, with their values
		// (-q it knows).
		{"-info -q -openssl false -wpanic --cpuprofile=x v", "info", "-q v"},
		{"-info -openssl false -wpanic v", "info", "v"},
		{"-version", "version", ""},
		{"-h", "help", ""},
		{"-hh", "help", ""},
		{"--help", "help", ""},
		// Mounting is the default action.
		{"-passfile pw c m", "mount", "-passfile pw c m"},
		{"c m -o passfile=pw,allow_other,nofail,ro", "mount", "c m -passfile=pw -allow_other -ro"},
		{"-extpass cat -extpass pw -fg -nosyslog -fusedebug -openssl auto c m", "mount", "-extpass cat -extpass pw -fg -nosyslog -fusedebug c m"},
		{"-reverse p c", "mount", "-reverse p c"},
		{"c m -- -init", "mount", "c m -- -init"},
		// An option value with "=" is never an action.
		{"-config=-info c m", "mount", "-config=-info c m"},
	} {
		cmd, args, err := translateGocryptfs(strings.Fields(tc.in))
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if cmd != tc.cmd || strings.Join(args, " ") != tc.args {
			t.Errorf("%q: got %s %q, want %s %q", tc.in, cmd, strings.Join(args, " "), tc.cmd, tc.args)
		}
	}
	for _, bad := range []string{"-init -passwd v", "-info -fsck v", "c m -o"} {
		if _, _, err := translateGocryptfs(strings.Fields(bad)); !errors.Is(err, errUsage) {
			t.Errorf("%q: err %v, want a usage error", bad, err)
		}
	}
	// The same action twice is fine.
	if cmd, _, err := translateGocryptfs([]string{"-info", "--info", "v"}); err != nil || cmd != "info" {
		t.Errorf("-info --info: %s, %v", cmd, err)
	}
	// -fsck and -speed map to the subcommands of those names when this
	// build has them, and are a usage error otherwise.
	for _, action := range []string{"fsck", "speed"} {
		cmd, _, err := translateGocryptfs([]string{"-" + action, "v"})
		if lookupCommand(action) != nil {
			if err != nil || cmd != action {
				t.Errorf("-%s: %s, %v", action, cmd, err)
			}
		} else if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("-%s without a %s command: %v", action, action, err)
		}
	}
}

func TestIsGocryptfsStyle(t *testing.T) {
	for in, want := range map[string]bool{
		"-init v":         true,
		"c m":             true,
		"c m -o ro":       true,
		"-- -c m":         true,
		"mount c m":       false,
		"init v":          false,
		"frobnicate":      false,
		"frobnicate -q x": true, // as "gocryptfs CIPHERDIR MOUNTPOINT"
		"ls v":            false,
	} {
		if got := isGocryptfsStyle(strings.Fields(in)); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}
