package harness

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certValidity is long enough for any test run and short enough that a leaked key is useless.
const certValidity = 24 * time.Hour

// authority is a throwaway certificate authority made for one test cluster.
type authority struct {
	cert     *x509.Certificate
	key      crypto.Signer
	certFile string
}

// keyPair is the PEM files of a certificate and its private key.
type keyPair struct {
	CertFile string
	KeyFile  string
	CertPEM  []byte
	KeyPEM   []byte
}

func newAuthority(dir, name string) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key for CA %s: %w", name, err)
	}
	template := &x509.Certificate{
		SerialNumber:          newSerialNumber(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate %s: %w", name, err)
	}

	certFile := filepath.Join(dir, name+".crt")
	if err := os.WriteFile(certFile, encodeCertificate(der), 0o600); err != nil {
		return nil, err
	}
	return &authority{cert: cert, key: key, certFile: certFile}, nil
}

// issueServing signs a serving certificate for the given loopback IP addresses and DNS names.
func (a *authority) issueServing(dir, name string, ips []net.IP, dnsNames []string) (keyPair, error) {
	template := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: ips,
		DNSNames:    dnsNames,
	}
	return a.issue(dir, name, template)
}

// issueClient signs a client certificate. Kubernetes takes the user name from the common name
// and the groups from the organizations.
func (a *authority) issueClient(dir, name, user string, groups []string) (keyPair, error) {
	template := &x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return a.issue(dir, name, template)
}

func (a *authority) issue(dir, name string, template *x509.Certificate) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("generate key for %s: %w", name, err)
	}
	template.SerialNumber = newSerialNumber()
	template.NotBefore = time.Now().Add(-time.Hour)
	template.NotAfter = time.Now().Add(certValidity)

	der, err := x509.CreateCertificate(rand.Reader, template, a.cert, key.Public(), a.key)
	if err != nil {
		return keyPair{}, fmt.Errorf("sign certificate %s: %w", name, err)
	}
	keyPEM, err := encodePrivateKey(key)
	if err != nil {
		return keyPair{}, err
	}

	pair := keyPair{
		CertFile: filepath.Join(dir, name+".crt"),
		KeyFile:  filepath.Join(dir, name+".key"),
		CertPEM:  encodeCertificate(der),
		KeyPEM:   keyPEM,
	}
	if err := os.WriteFile(pair.CertFile, pair.CertPEM, 0o600); err != nil {
		return keyPair{}, err
	}
	if err := os.WriteFile(pair.KeyFile, pair.KeyPEM, 0o600); err != nil {
		return keyPair{}, err
	}
	return pair, nil
}

// writeServiceAccountKeys writes the key pair that the API server signs and checks service
// account tokens with, and returns the private and public key file paths.
func writeServiceAccountKeys(dir string) (privateFile, publicFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate service account key: %w", err)
	}
	privatePEM, err := encodePrivateKey(key)
	if err != nil {
		return "", "", err
	}
	publicDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", "", fmt.Errorf("encode service account public key: %w", err)
	}

	privateFile = filepath.Join(dir, "service-account.key")
	publicFile = filepath.Join(dir, "service-account.pub")
	if err := os.WriteFile(privateFile, privatePEM, 0o600); err != nil {
		return "", "", err
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicDER})
	if err := os.WriteFile(publicFile, publicPEM, 0o600); err != nil {
		return "", "", err
	}
	return privateFile, publicFile, nil
}

func encodeCertificate(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodePrivateKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func newSerialNumber() *big.Int {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		// crypto/rand.Read never returns an error on Linux since Go 1.24, so this only guards
		// against a broken platform.
		panic(fmt.Sprintf("read random serial number: %v", err))
	}
	return serial
}
