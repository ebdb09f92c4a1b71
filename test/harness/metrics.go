package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
)

// Request logging keeps the test log short: the first requestsLoggedInFull requests to each
// path are logged, then every requestLogInterval-th one together with the count.
const (
	requestsLoggedInFull = 3
	requestLogInterval   = 50
)

// MetricsServer is an HTTPS server on 127.0.0.1 that serves metrics.k8s.io/v1beta1,
// custom.metrics.k8s.io/v1beta2 and external.metrics.k8s.io/v1beta1 with values that the test
// sets, as metrics-server and a custom metrics adapter would. Start registers an APIService for
// each group, so clients reach it through the API server.
//
// Like the real adapters, it responds to a request for pods or other objects with the objects that
// exist in the API server and match the request's label selector, and it serves a value only
// for objects the test set one for. Values never expire.
type MetricsServer struct {
	// URL is the server's base URL, https://127.0.0.1:PORT.
	URL string

	t       testing.TB
	cluster *Cluster
	server  *http.Server
	mapper  *restmapper.DeferredDiscoveryRESTMapper

	mu            sync.Mutex
	podMetrics    map[objectKey]podMetricsSample
	objectMetrics map[objectMetricKey]sample
	external      map[externalMetricKey][]externalSeries
	requests      map[string]int
	closed        bool
}

// objectKey is a namespaced object. Namespace is empty for cluster-scoped objects.
type objectKey struct {
	namespace string
	name      string
}

type objectMetricKey struct {
	namespace string
	resource  schema.GroupResource
	name      string
	metric    string
}

type externalMetricKey struct {
	namespace string
	metric    string
}

type podMetricsSample struct {
	containers map[string]corev1.ResourceList
	window     time.Duration
	timestamp  time.Time
}

type sample struct {
	value        resource.Quantity
	timestamp    time.Time
	window       time.Duration
	metricLabels map[string]string
}

type externalSeries struct {
	labels map[string]string
	sample sample
}

// MetricOption sets a property of a value served by the MetricsServer.
type MetricOption func(*sample)

// WithTimestamp sets the time at which the value was measured. Without it the server reports
// the time of each request, like a freshly scraped value.
func WithTimestamp(timestamp time.Time) MetricOption {
	return func(s *sample) { s.timestamp = timestamp }
}

// WithWindow sets the window over which a rate was computed, served as windowSeconds for custom
// and external metrics. Without it the window is omitted.
func WithWindow(window time.Duration) MetricOption {
	return func(s *sample) { s.window = window }
}

// WithMetricLabels sets the labels of a custom metric's series, which a request's
// metricLabelSelector (an HPA metric's selector) must match.
func WithMetricLabels(labels map[string]string) MetricOption {
	return func(s *sample) { s.metricLabels = labels }
}

func newSample(value resource.Quantity, opts []MetricOption) sample {
	s := sample{value: value}
	for _, opt := range opts {
		opt(&s)
	}
	return s
}

// SetPodMetrics sets the resource usage (metrics.k8s.io PodMetrics) of each container of a pod,
// measured over window. Only WithTimestamp applies among the options.
func (m *MetricsServer) SetPodMetrics(namespace, pod string, containers map[string]corev1.ResourceList, window time.Duration, opts ...MetricOption) {
	s := newSample(resource.Quantity{}, opts)
	copied := make(map[string]corev1.ResourceList, len(containers))
	for name, usage := range containers {
		copied[name] = usage.DeepCopy()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.podMetrics[objectKey{namespace, pod}] = podMetricsSample{containers: copied, window: window, timestamp: s.timestamp}
}

// DeletePodMetrics removes the resource usage of a pod, so the server no longer reports it.
func (m *MetricsServer) DeletePodMetrics(namespace, pod string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.podMetrics, objectKey{namespace, pod})
}

// SetPodCustomMetric sets a custom metric (custom.metrics.k8s.io) of a pod, as an HPA Pods
// metric reads it.
func (m *MetricsServer) SetPodCustomMetric(namespace, pod, metric string, value resource.Quantity, opts ...MetricOption) {
	m.SetObjectMetric(namespace, "pods", pod, metric, value, opts...)
}

// SetObjectMetric sets a custom metric (custom.metrics.k8s.io) of any object, as an HPA Object
// metric reads it. groupResource is a resource with its group, such as
// "ingresses.networking.k8s.io", or a core resource such as "services". namespace is empty for
// cluster-scoped objects. For a metric of a namespace itself, pass namespace "" and
// groupResource "namespaces".
func (m *MetricsServer) SetObjectMetric(namespace, groupResource, name, metric string, value resource.Quantity, opts ...MetricOption) {
	key := objectMetricKey{namespace, schema.ParseGroupResource(groupResource), name, metric}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objectMetrics[key] = newSample(value, opts)
}

// DeleteObjectMetric removes a value set with SetObjectMetric or SetPodCustomMetric.
func (m *MetricsServer) DeleteObjectMetric(namespace, groupResource, name, metric string) {
	key := objectMetricKey{namespace, schema.ParseGroupResource(groupResource), name, metric}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objectMetrics, key)
}

// SetExternalMetric sets the value of one series of an external metric (external.metrics.k8s.io)
// in a namespace. The series is identified by its labels, which a request's labelSelector (an
// HPA External metric's selector) must match. Setting the same labels again replaces the value.
func (m *MetricsServer) SetExternalMetric(namespace, metric string, labels map[string]string, value resource.Quantity, opts ...MetricOption) {
	series := externalSeries{labels: copyLabels(labels), sample: newSample(value, opts)}
	key := externalMetricKey{namespace, metric}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, existing := range m.external[key] {
		if equalLabels(existing.labels, series.labels) {
			m.external[key][i] = series
			return
		}
	}
	m.external[key] = append(m.external[key], series)
}

// DeleteExternalMetric removes every series of an external metric in a namespace.
func (m *MetricsServer) DeleteExternalMetric(namespace, metric string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.external, externalMetricKey{namespace, metric})
}

// RequestCount returns how many requests the server received for a URL path, such as
// "/apis/metrics.k8s.io/v1beta1/namespaces/demo/pods". The query string is not part of the path.
func (m *MetricsServer) RequestCount(path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests[path]
}

// RequestCounts returns a copy of the number of requests received for each URL path.
func (m *MetricsServer) RequestCounts() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	counts := make(map[string]int, len(m.requests))
	for path, n := range m.requests {
		counts[path] = n
	}
	return counts
}

// ResetRequestCounts sets every request count to zero.
func (m *MetricsServer) ResetRequestCounts() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = map[string]int{}
}

// startMetricsServer starts the server, registers its APIServices and waits until they are
// Available. It fails the test on error and stops the server when the test ends.
func startMetricsServer(t testing.TB, c *Cluster) *MetricsServer {
	t.Helper()
	serving, err := c.tls.ca.issueServing(c.Dir+"/pki", "metrics-server", []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	if err != nil {
		t.Fatalf("create metrics server certificate: %v", err)
	}
	certificate, err := tls.X509KeyPair(serving.CertPEM, serving.KeyPEM)
	if err != nil {
		t.Fatalf("load metrics server certificate: %v", err)
	}
	// The API server presents the front proxy client certificate when it forwards a request.
	// Requests without a certificate are accepted too, so a test can call the server directly.
	frontProxyCAs := x509.NewCertPool()
	frontProxyCAs.AddCert(c.tls.frontProxyCA.cert)

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the metrics server on 127.0.0.1: %v", err)
	}
	m := &MetricsServer{
		URL:           "https://" + listener.Addr().String(),
		t:             t,
		cluster:       c,
		mapper:        restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery())),
		podMetrics:    map[objectKey]podMetricsSample{},
		objectMetrics: map[objectMetricKey]sample{},
		external:      map[externalMetricKey][]externalSeries{},
		requests:      map[string]int{},
	}
	m.server = &http.Server{
		Handler:           m.countRequests(m.routes()),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{certificate},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    frontProxyCAs,
			MinVersion:   tls.VersionTLS12,
		},
	}
	go func() {
		if err := m.server.ServeTLS(listener, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.logf("metrics server on %s stopped: %v", m.URL, err)
		}
	}()
	t.Cleanup(m.stop)

	port := listener.Addr().(*net.TCPAddr).Port
	if err := registerAPIServices(t, c, port); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *MetricsServer) stop() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.server.Shutdown(ctx); err != nil {
		m.server.Close()
	}
}

// logf writes to the test log unless the test is over, because testing panics on a log call
// after the test has completed.
func (m *MetricsServer) logf(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.t.Logf(format, args...)
	}
}

// statusRecorder keeps the status code of a response for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (m *MetricsServer) countRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.requests[r.URL.Path]++
		count := m.requests[r.URL.Path]
		m.mu.Unlock()

		recorder := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(recorder, r)

		if count <= requestsLoggedInFull || count%requestLogInterval == 0 {
			target := r.URL.Path
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			m.logf("metrics server: %s %s -> %d (request %d to this path)", r.Method, target, recorder.status, count)
		}
	})
}

func copyLabels(labels map[string]string) map[string]string {
	copied := make(map[string]string, len(labels))
	for k, v := range labels {
		copied[k] = v
	}
	return copied
}

func equalLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if value, ok := b[k]; !ok || value != v {
			return false
		}
	}
	return true
}
