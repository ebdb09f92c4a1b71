// Package harness starts a real Kubernetes control plane (etcd, kube-apiserver and
// kube-controller-manager from k8s.io/kubernetes v1.37.2) on 127.0.0.1 for end-to-end tests,
// together with a metrics API server whose values the test sets.
//
// The components run as child processes of the kube-testcluster binary that
// hack/build-testcluster.sh builds, found through the KUBE_TESTCLUSTER_BIN environment variable.
// No kubelet runs, so pods stay Pending until a test marks them Running and Ready through the
// pod status subresource (see MarkPodsRunningReady).
package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// BinaryEnv is the environment variable that contains the path of the kube-testcluster binary.
const BinaryEnv = "KUBE_TESTCLUSTER_BIN"

// Defaults for Options.
const (
	DefaultStartTimeout = 90 * time.Second
	DefaultWaitTimeout  = 60 * time.Second
)

// baseControllers are the controllers of the controller manager that Start runs. The HPA
// controller is left out so that a test can start it later with StartHPAController.
var baseControllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"serviceaccount-controller",
	"disruption-controller",
	"resourcequota-controller",
	"garbage-collector-controller",
	"namespace-controller",
}

// Options configures Start. The zero value is ready to use.
type Options struct {
	// Binary is the kube-testcluster binary. Empty means the value of KUBE_TESTCLUSTER_BIN.
	Binary string
	// StartTimeout bounds the wait for each component to become ready (default DefaultStartTimeout).
	StartTimeout time.Duration
	// WaitTimeout bounds each Wait* helper of the cluster (default DefaultWaitTimeout).
	WaitTimeout time.Duration
	// FeatureGates are passed to the API server and to every controller manager.
	FeatureGates map[string]bool
	// Verbosity is the klog level (--v) of the API server and the controller managers.
	Verbosity int
	// APIServerFlags are appended to the kube-apiserver flags, so they override the defaults.
	APIServerFlags []string
	// ControllerManagerFlags are appended to the flags of the base controller manager.
	ControllerManagerFlags []string
	// DisableMetricsServer skips the test metrics API server and its APIService registrations.
	DisableMetricsServer bool
}

// Cluster is a running control plane. Its processes stop when the test that started it ends.
type Cluster struct {
	// Dir is the directory with the certificates, kubeconfig files, etcd data and component logs.
	Dir string
	// Host is the API server URL, https://127.0.0.1:PORT.
	Host string
	// KubeconfigPath is an admin kubeconfig file (user "admin" in group system:masters).
	KubeconfigPath string
	// Config is the admin client configuration.
	Config *rest.Config
	// Client is an admin clientset.
	Client kubernetes.Interface
	// Dynamic is an admin dynamic client.
	Dynamic dynamic.Interface
	// Metrics serves metrics.k8s.io, custom.metrics.k8s.io and external.metrics.k8s.io through
	// API aggregation. It is nil when Options.DisableMetricsServer is set.
	Metrics *MetricsServer

	binary      string
	options     Options
	tls         clusterTLS
	processes   []*process
	controllers int // number of controller manager processes started, for unique log names
}

// clusterTLS is the certificate material that Start makes for one cluster.
type clusterTLS struct {
	ca                   *authority
	frontProxyCA         *authority
	apiServerServing     keyPair
	controllerServing    keyPair
	admin                keyPair
	controllerManager    keyPair
	frontProxyClient     keyPair
	serviceAccountKey    string
	serviceAccountPublic string
}

// BinaryFromEnv returns the kube-testcluster binary named by KUBE_TESTCLUSTER_BIN, or an error
// that explains how to build it.
func BinaryFromEnv() (string, error) {
	binary := os.Getenv(BinaryEnv)
	if binary == "" {
		return "", fmt.Errorf("%s is not set: run 'export %s=$(hack/build-testcluster.sh)' or 'make e2e'", BinaryEnv, BinaryEnv)
	}
	info, err := os.Stat(binary)
	if err != nil {
		return "", fmt.Errorf("%s=%s: %w: run hack/build-testcluster.sh to build it", BinaryEnv, binary, err)
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s=%s is not an executable file: run hack/build-testcluster.sh to build it", BinaryEnv, binary)
	}
	return binary, nil
}

// SkipWithoutBinary skips the test unless KUBE_TESTCLUSTER_BIN is set, so that plain
// 'go test ./...' passes on machines without the test control plane.
func SkipWithoutBinary(t testing.TB) {
	t.Helper()
	if os.Getenv(BinaryEnv) == "" {
		t.Skipf("%s is not set: run hack/e2e.sh, or export %s=$(hack/build-testcluster.sh), to run this test", BinaryEnv, BinaryEnv)
	}
}

// Start starts etcd, kube-apiserver, a controller manager with the base controllers (not the
// HPA controller) and, unless disabled, the metrics API server, and waits until all are ready.
// It fails the test on any error. The processes are stopped by PID when the test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	started := time.Now()

	binary := opts.Binary
	if binary == "" {
		var err error
		if binary, err = BinaryFromEnv(); err != nil {
			t.Fatal(err)
		}
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}

	c := &Cluster{Dir: t.TempDir(), binary: binary, options: opts}
	// Registered before any process starts, so it runs after every process cleanup.
	t.Cleanup(func() { c.logTailsIfFailed(t) })

	if err := c.makeTLS(); err != nil {
		t.Fatalf("create test certificates in %s: %v", c.Dir, err)
	}
	etcdURL, err := c.startEtcd(t)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.startAPIServer(t, etcdURL); err != nil {
		t.Fatal(err)
	}
	if err := c.writeKubeconfigs(); err != nil {
		t.Fatal(err)
	}
	if err := c.makeClients(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.startControllerManager(t, "controller-manager", baseControllers, opts.ControllerManagerFlags); err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane ready at %s after %s (logs in %s)", c.Host, time.Since(started).Round(time.Millisecond), c.Dir)

	if !opts.DisableMetricsServer {
		c.Metrics = startMetricsServer(t, c)
		t.Logf("metrics APIs available after %s", time.Since(started).Round(time.Millisecond))
	}
	return c
}

func (c *Cluster) makeTLS() error {
	certDir := filepath.Join(c.Dir, "pki")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	var err error
	s := &c.tls

	if s.ca, err = newAuthority(certDir, "ca"); err != nil {
		return err
	}
	if s.frontProxyCA, err = newAuthority(certDir, "front-proxy-ca"); err != nil {
		return err
	}
	// 127.0.100.1 is the ClusterIP of the kubernetes Service in --service-cluster-ip-range.
	apiServerIPs := append(loopback, net.ParseIP("127.0.100.1"))
	apiServerNames := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	if s.apiServerServing, err = s.ca.issueServing(certDir, "apiserver", apiServerIPs, apiServerNames); err != nil {
		return err
	}
	if s.controllerServing, err = s.ca.issueServing(certDir, "controller-manager-serving", loopback, []string{"localhost"}); err != nil {
		return err
	}
	if s.admin, err = s.ca.issueClient(certDir, "admin", "admin", []string{"system:masters"}); err != nil {
		return err
	}
	// NOTE: the controller managers run in group system:masters with one identity for every
	// controller, so the per-controller RBAC roles of a real cluster are not exercised.
	if s.controllerManager, err = s.ca.issueClient(certDir, "controller-manager", "system:kube-controller-manager", []string{"system:masters"}); err != nil {
		return err
	}
	if s.frontProxyClient, err = s.frontProxyCA.issueClient(certDir, "front-proxy-client", "front-proxy-client", nil); err != nil {
		return err
	}
	s.serviceAccountKey, s.serviceAccountPublic, err = writeServiceAccountKeys(certDir)
	return err
}

func (c *Cluster) startEtcd(t testing.TB) (string, error) {
	ports, err := freePorts(2)
	if err != nil {
		return "", err
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	args := []string{
		"etcd",
		"--data-dir=" + filepath.Join(c.Dir, "etcd-data"),
		"--listen-client-url=" + clientURL,
		fmt.Sprintf("--listen-peer-url=http://127.0.0.1:%d", ports[1]),
	}
	p, err := c.startProcess(t, "etcd", args)
	if err != nil {
		return "", err
	}

	client := &http.Client{Timeout: 2 * time.Second}
	err = c.waitReady(p, func() error {
		response, err := client.Get(clientURL + "/health")
		if err != nil {
			return err
		}
		response.Body.Close()
		if response.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /health returned %s", response.Status)
		}
		return nil
	})
	return clientURL, err
}

func (c *Cluster) startAPIServer(t testing.TB, etcdURL string) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	c.Host = fmt.Sprintf("https://127.0.0.1:%d", ports[0])
	s := &c.tls

	args := []string{
		"apiserver",
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[0]),
		"--tls-cert-file=" + s.apiServerServing.CertFile,
		"--tls-private-key-file=" + s.apiServerServing.KeyFile,
		"--client-ca-file=" + s.ca.certFile,
		"--authorization-mode=RBAC",
		// Every ClusterIP is a loopback address, so nothing a test creates can route elsewhere.
		"--service-cluster-ip-range=127.0.100.0/24",
		// Without kubelets the API server would publish an endpoint that no process serves.
		"--endpoint-reconciler-type=none",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + s.serviceAccountPublic,
		"--service-account-signing-key-file=" + s.serviceAccountKey,
		// API aggregation forwards requests with the front proxy client certificate and the
		// user in request headers, which the metrics API server could check against this CA.
		"--requestheader-client-ca-file=" + s.frontProxyCA.certFile,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + s.frontProxyClient.CertFile,
		"--proxy-client-key-file=" + s.frontProxyClient.KeyFile,
		"--profiling=false",
		"--v=" + strconv.Itoa(c.options.Verbosity),
	}
	args = append(args, c.featureGateFlags()...)
	args = append(args, c.options.APIServerFlags...)

	p, err := c.startProcess(t, "apiserver", args)
	if err != nil {
		return err
	}
	client, err := c.adminHTTPClient()
	if err != nil {
		return err
	}
	return c.waitReady(p, func() error {
		return getOK(client, c.Host+"/readyz")
	})
}

// startControllerManager starts a kube-controller-manager that runs only the given controllers
// and waits for its /healthz.
func (c *Cluster) startControllerManager(t testing.TB, name string, controllers, extraFlags []string) (*process, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(c.Dir, "controller-manager.kubeconfig")
	args := []string{
		"controller-manager",
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[0]),
		"--tls-cert-file=" + c.tls.controllerServing.CertFile,
		"--tls-private-key-file=" + c.tls.controllerServing.KeyFile,
		"--controllers=" + strings.Join(controllers, ","),
		"--kube-api-qps=100",
		"--kube-api-burst=200",
		"--profiling=false",
		"--v=" + strconv.Itoa(c.options.Verbosity),
	}
	args = append(args, c.featureGateFlags()...)
	args = append(args, extraFlags...)

	p, err := c.startProcess(t, name, args)
	if err != nil {
		return nil, err
	}
	client, err := c.servingHTTPClient()
	if err != nil {
		return nil, err
	}
	healthURL := fmt.Sprintf("https://127.0.0.1:%d/healthz", ports[0])
	if err := c.waitReady(p, func() error { return getOK(client, healthURL) }); err != nil {
		return nil, err
	}
	return p, nil
}

// startProcess starts one component and registers a test cleanup that stops it by PID.
func (c *Cluster) startProcess(t testing.TB, name string, args []string) (*process, error) {
	p, err := startProcess(name, c.binary, c.Dir, args)
	if err != nil {
		return nil, err
	}
	c.processes = append(c.processes, p)
	t.Cleanup(p.stop)
	return p, nil
}

// waitReady polls probe until it succeeds, the process exits or StartTimeout passes.
func (c *Cluster) waitReady(p *process, probe func() error) error {
	deadline := time.Now().Add(c.options.StartTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		if !p.running() {
			return p.failure("exited before it was ready")
		}
		if lastErr = probe(); lastErr == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return p.failure("not ready after %s (last probe error: %v); raise Options.StartTimeout if the machine is busy", c.options.StartTimeout, lastErr)
}

func (c *Cluster) featureGateFlags() []string {
	if len(c.options.FeatureGates) == 0 {
		return nil
	}
	gates := make([]string, 0, len(c.options.FeatureGates))
	for name, enabled := range c.options.FeatureGates {
		gates = append(gates, fmt.Sprintf("%s=%t", name, enabled))
	}
	sort.Strings(gates)
	return []string{"--feature-gates=" + strings.Join(gates, ",")}
}

// adminHTTPClient returns an HTTP client that trusts the cluster CA and presents the admin
// client certificate.
func (c *Cluster) adminHTTPClient() (*http.Client, error) {
	certificate, err := tls.X509KeyPair(c.tls.admin.CertPEM, c.tls.admin.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("load admin client certificate: %w", err)
	}
	client, err := c.servingHTTPClient()
	if err != nil {
		return nil, err
	}
	client.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{certificate}
	return client, nil
}

// servingHTTPClient returns an HTTP client that trusts only the cluster CA.
func (c *Cluster) servingHTTPClient() (*http.Client, error) {
	roots := x509.NewCertPool()
	roots.AddCert(c.tls.ca.cert)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	return &http.Client{Transport: transport, Timeout: 5 * time.Second}, nil
}

func getOK(client *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	response, err := client.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s returned %s", url, response.Status)
	}
	return nil
}

// logTailsIfFailed logs the end of every component log when the test failed, because the
// temporary directory with the full logs is removed after the test.
func (c *Cluster) logTailsIfFailed(t testing.TB) {
	if !t.Failed() {
		return
	}
	for _, p := range c.processes {
		t.Logf("last %d lines of %s (pid %d, %s):\n%s", logTailLines, p.logFile, p.pid(), p.exitDescription(), p.logTail(logTailLines))
	}
}
