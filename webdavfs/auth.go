package webdavfs

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// MaxBcryptCost bounds the cost of htpasswd hashes: each step doubles the
// time of a check (cost 14 is about a second), and a hash of cost 31 would
// make every login take days.
const MaxBcryptCost = 14

// ErrHtpasswd reports an htpasswd file this package cannot use.
var ErrHtpasswd = errors.New("webdavfs: bad htpasswd file")

// Users are the accounts BasicAuth accepts. Passwords are kept only as
// HMACs under a key drawn for this value, and compared in constant time.
type Users struct {
	key   [32]byte
	plain map[string][]byte // name -> HMAC of the password
	hash  map[string][]byte // name -> bcrypt hash
	dummy []byte            // checked for unknown names, to take as long

	mu sync.Mutex
	ok map[string][]byte // name -> HMAC of a password bcrypt accepted
}

// NewUsers returns an empty set of accounts.
func NewUsers() *Users {
	u := &Users{plain: map[string][]byte{}, hash: map[string][]byte{}, ok: map[string][]byte{}}
	rand.Read(u.key[:])
	return u
}

func (u *Users) mac(name string, password []byte) []byte {
	m := hmac.New(sha256.New, u.key[:])
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write(password)
	return m.Sum(nil)
}

// AddPassword adds (or replaces) an account with its password. The caller
// may wipe password afterwards.
func (u *Users) AddPassword(name string, password []byte) {
	u.plain[name] = u.mac(name, password)
	delete(u.hash, name)
}

// AddHash adds (or replaces) an account with a bcrypt hash ($2a$, $2b$ or
// $2y$, as htpasswd -B writes them) of cost at most MaxBcryptCost.
func (u *Users) AddHash(name, hash string) error {
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return fmt.Errorf("%w: user %q: %v (only bcrypt hashes are supported: htpasswd -B)", ErrHtpasswd, name, err)
	}
	if cost > MaxBcryptCost {
		return fmt.Errorf("%w: user %q: bcrypt cost %d is above %d", ErrHtpasswd, name, cost, MaxBcryptCost)
	}
	if u.dummy == nil {
		var pw [16]byte
		rand.Read(pw[:])
		u.dummy, _ = bcrypt.GenerateFromPassword(pw[:], cost)
	}
	u.hash[name] = []byte(hash)
	delete(u.plain, name)
	return nil
}

// Len is the number of accounts.
func (u *Users) Len() int { return len(u.plain) + len(u.hash) }

// ReadHtpasswd adds the accounts of an htpasswd file ("name:hash" lines;
// blank lines and lines starting with # are skipped). Only bcrypt hashes
// are accepted: the other schemes of htpasswd (MD5, SHA-1, crypt) are too
// weak to keep.
func (u *Users) ReadHtpasswd(r io.Reader) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, hash, ok := strings.Cut(l, ":")
		if !ok || name == "" {
			return fmt.Errorf("%w: line %d: not NAME:HASH", ErrHtpasswd, line)
		}
		if err := u.AddHash(name, hash); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrHtpasswd, err)
	}
	return nil
}

// Check reports whether name and password are an account's. It takes
// about as long for an unknown name as for a known one.
func (u *Users) Check(name string, password []byte) bool {
	mac := u.mac(name, password)
	if want, ok := u.plain[name]; ok {
		return hmac.Equal(mac, want)
	}
	hash, ok := u.hash[name]
	if !ok {
		if u.dummy != nil {
			bcrypt.CompareHashAndPassword(u.dummy, password)
		}
		return false
	}
	// bcrypt takes tens of milliseconds by design; a password it accepted
	// once is then checked by its HMAC (a WebDAV client sends it with
	// every request).
	u.mu.Lock()
	seen := u.ok[name]
	u.mu.Unlock()
	if seen != nil && hmac.Equal(mac, seen) {
		return true
	}
	if bcrypt.CompareHashAndPassword(hash, password) != nil {
		return false
	}
	u.mu.Lock()
	u.ok[name] = mac
	u.mu.Unlock()
	return true
}

// FailureDelay is how long BasicAuth waits before it answers a request with
// wrong credentials, to slow down guessing.
const FailureDelay = 300 * time.Millisecond

// BasicAuth serves next to requests with the credentials of one of users
// (HTTP basic authentication, RFC 7617) and answers 401 to the others.
// Use it over TLS unless the network is trusted: basic authentication
// sends the password in every request.
func BasicAuth(next http.Handler, users *Users, realm string) http.Handler {
	challenge := fmt.Sprintf(`Basic realm=%q, charset="UTF-8"`, realm)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, pw, ok := r.BasicAuth()
		if ok && users.Check(name, []byte(pw)) {
			next.ServeHTTP(w, r)
			return
		}
		if ok {
			select {
			case <-time.After(FailureDelay):
			case <-r.Context().Done():
			}
		}
		w.Header().Set("WWW-Authenticate", challenge)
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
	})
}

// LocalNames serves next only to requests whose Host is an IP address or
// "localhost" (with any port), and answers 403 to the others. Put it in
// front of a server without authentication on a loopback address: a web
// page cannot reach such a server by itself (the browser keeps it from
// reading the answers), but it can point a DNS name of its own at
// 127.0.0.1 (DNS rebinding) and then read whatever the server answers to
// that name.
func LocalNames(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if !strings.EqualFold(host, "localhost") && net.ParseIP(host) == nil {
			http.Error(w, "403 Forbidden: unknown host name", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
