//go:build linux

package s3store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sealfs/sealfs/internal/testweed"
	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/s3store"
	"github.com/sealfs/sealfs/store/storetest"
)

func client(c *testweed.Cluster) *s3.Client {
	return s3.New(s3.Options{
		Region:       testweed.Region,
		BaseEndpoint: aws.String(c.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
	})
}

// TestConformance runs the store suite against SeaweedFS, each test under
// a prefix of its own in one bucket (every bucket is a collection with
// volumes of its own in SeaweedFS).
func TestConformance(t *testing.T) {
	c := testweed.Start(t, 3)
	cl := client(c)
	bucket := "conformance"
	if _, err := cl.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		b := make([]byte, 6)
		rand.Read(b)
		s, err := s3store.New(context.Background(), &s3store.Options{Client: cl, Bucket: bucket, Prefix: "vault-" + hex.EncodeToString(b), TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
