//go:build linux

package testweed

import (
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// curlS3 runs curl with AWS Signature Version 4 against the cluster.
func curlS3(t *testing.T, c *Cluster, args ...string) string {
	t.Helper()
	base := []string{"-sS", "--fail-with-body", "--max-time", "30",
		"--aws-sigv4", "aws:amz:" + Region + ":s3", "--user", c.AccessKey + ":" + c.SecretKey}
	t0 := time.Now()
	out, err := exec.Command("curl", append(base, args...)...).CombinedOutput()
	t.Logf("curl %v: %.1fs", args[len(args)-1], time.Since(t0).Seconds())
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestCluster: a cluster with three volume servers stores and returns an
// object through its S3 gateway, signed requests only.
func TestCluster(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		require(t, err)
	}
	c := Start(t, 3)
	curlS3(t, c, "-X", "PUT", c.Endpoint+"/bucket1")
	// curl signs the payload hash it is given (its default does not
	// match what S3 expects for a body).
	sum := sha256.Sum256([]byte("hello seaweed"))
	curlS3(t, c, "-X", "PUT", "-H", "x-amz-content-sha256: "+hex.EncodeToString(sum[:]), "--data-binary", "hello seaweed", c.Endpoint+"/bucket1/dir/obj")
	if got := curlS3(t, c, c.Endpoint+"/bucket1/dir/obj"); got != "hello seaweed" {
		t.Fatalf("GET: %q", got)
	}
	if got := curlS3(t, c, c.Endpoint+"/bucket1?list-type=2&prefix=dir%2F"); !strings.Contains(got, "<Key>dir/obj</Key>") {
		t.Fatalf("list: %s", got)
	}
	// Without the signature the gateway refuses.
	out, err := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", c.Endpoint+"/bucket1/dir/obj").Output()
	if err != nil || string(out) != "403" {
		t.Fatalf("unsigned GET: %s %v", out, err)
	}
}
