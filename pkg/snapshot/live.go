package snapshot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/klog/v2"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclientset "k8s.io/metrics/pkg/client/clientset/versioned"
	custommetricsclient "k8s.io/metrics/pkg/client/custom_metrics"
	externalmetricsclient "k8s.io/metrics/pkg/client/external_metrics"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// RBACManifest is the file of this repository that grants every permission the live reader needs.
const RBACManifest = "deploy/rbac.yaml"

// LiveClients are the clients of the live reader. NewLiveReader builds them from a kubeconfig;
// tests pass fakes to NewLiveReaderForClients.
type LiveClients struct {
	Kube            kubernetes.Interface
	Metrics         metricsclientset.Interface
	CustomMetrics   custommetricsclient.CustomMetricsClient
	ExternalMetrics externalmetricsclient.ExternalMetricsClient
	Scales          scale.ScalesGetter
	// Mapper maps a scale target's group and kind to its resource.
	Mapper meta.RESTMapper
	// Discovery lists the API groups the server serves.
	Discovery discovery.DiscoveryInterface
}

// LiveReader reads a Snapshot from a cluster with get and list requests only. It never reads
// Secrets.
type LiveReader struct {
	clients  LiveClients
	requests *RequestCounter
}

// LiveOptions select what a LiveReader reads.
type LiveOptions struct {
	// Namespaces to read, each with one list request per kind.
	Namespaces []string
	// AllNamespaces reads every namespace with one cluster-wide list per kind instead.
	AllNamespaces bool
	// PodDisruptionBudgets and ResourceQuotas add one list request each per namespace, for the
	// commands that use them; HPA decisions read neither.
	PodDisruptionBudgets bool
	ResourceQuotas       bool
}

// RequestCounter counts the HTTP requests sent through a rest.Config that it wraps.
type RequestCounter struct {
	count atomic.Int64
}

// Count returns the number of requests sent so far.
func (c *RequestCounter) Count() int64 {
	return c.count.Load()
}

// Wrap returns a round tripper that counts each request before sending it through next. Its
// signature fits rest.Config.Wrap.
func (c *RequestCounter) Wrap(next http.RoundTripper) http.RoundTripper {
	return &countingRoundTripper{counter: c, next: next}
}

// countingRoundTripper counts requests for a RequestCounter. It implements CancelRequest and
// utilnet.RoundTripperWrapper like client-go's own wrappers, so that client-go can cancel a timed-out
// request through it instead of logging "unable to cancel request".
type countingRoundTripper struct {
	counter *RequestCounter
	next    http.RoundTripper
}

func (rt *countingRoundTripper) RoundTrip(request *http.Request) (*http.Response, error) {
	rt.counter.count.Add(1)
	return rt.next.RoundTrip(request)
}

// CancelRequest cancels request in the wrapped transport, or in the first transport below it that
// can cancel. It does nothing when none can.
func (rt *countingRoundTripper) CancelRequest(request *http.Request) {
	type canceler interface {
		CancelRequest(*http.Request)
	}
	next := rt.next
	// The bound only guards against a chain of wrappers that loops back on itself.
	for depth := 0; next != nil && depth < maxUnwrapDepth; depth++ {
		switch transport := next.(type) {
		case canceler:
			transport.CancelRequest(request)
			return
		case utilnet.RoundTripperWrapper:
			next = transport.WrappedRoundTripper()
		default:
			return
		}
	}
}

const maxUnwrapDepth = 32

// WrappedRoundTripper returns the transport that requests are sent through.
func (rt *countingRoundTripper) WrappedRoundTripper() http.RoundTripper {
	return rt.next
}

// Client-side rate limit of the live reader. client-go's default (5 requests per second, burst
// 10) throttles a namespace of 50 HPAs to about 10 seconds, although the reads are sequential
// and light.
const (
	liveQPS   = 50
	liveBurst = 100
	// scaleReadConcurrency bounds the scale subresource GETs in flight at once.
	scaleReadConcurrency = 8
)

// NewLiveReader builds the clients of a LiveReader from getter, typically the kubectl
// ConfigFlags, with every request counted. Discovery uses the getter's client, which for
// ConfigFlags is kubectl's disk cache (--cache-dir), so repeated runs skip discovery as kubectl
// does. Lookups served from that cache send no request and are not counted.
func NewLiveReader(getter genericclioptions.RESTClientGetter) (*LiveReader, error) {
	counter := &RequestCounter{}
	// ConfigFlags applies WrapConfigFn to every config it makes, the discovery client's too, so
	// the counter counts every request that goes to the network. Other getters are wrapped here.
	flags, isConfigFlags := getter.(*genericclioptions.ConfigFlags)
	if isConfigFlags {
		previous := flags.WrapConfigFn
		flags.WrapConfigFn = func(config *rest.Config) *rest.Config {
			if previous != nil {
				config = previous(config)
			}
			config.Wrap(counter.Wrap)
			return config
		}
	}
	baseConfig, err := getter.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("failed to load the kubeconfig: %w", err)
	}
	config := rest.CopyConfig(baseConfig)
	if config.QPS == 0 {
		config.QPS, config.Burst = liveQPS, liveBurst
	}
	if !isConfigFlags {
		config.Wrap(counter.Wrap)
	}

	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("failed to create the Kubernetes client: %w", err)
	}
	cachedDiscovery, err := getter.ToDiscoveryClient()
	if err != nil {
		return nil, fmt.Errorf("failed to create the discovery client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cachedDiscovery)

	scales, err := scale.NewForConfig(config, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(cachedDiscovery))
	if err != nil {
		return nil, fmt.Errorf("failed to create the scale client: %w", err)
	}
	metrics, err := metricsclientset.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("failed to create the metrics.k8s.io client: %w", err)
	}
	external, err := externalmetricsclient.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("failed to create the external.metrics.k8s.io client: %w", err)
	}
	custom := custommetricsclient.NewForConfig(config, mapper, custommetricsclient.NewAvailableAPIsGetter(cachedDiscovery))

	reader := NewLiveReaderForClients(LiveClients{
		Kube:            kube,
		Metrics:         metrics,
		CustomMetrics:   custom,
		ExternalMetrics: external,
		Scales:          scales,
		Mapper:          mapper,
		Discovery:       cachedDiscovery,
	})
	reader.requests = counter
	return reader, nil
}

// NewLiveReaderForClients returns a LiveReader that uses clients. Its request count stays 0
// unless the clients' transport is wrapped by the reader's RequestCounter.
func NewLiveReaderForClients(clients LiveClients) *LiveReader {
	return &LiveReader{clients: clients, requests: &RequestCounter{}}
}

// Requests returns the number of API requests sent so far, discovery included.
func (r *LiveReader) Requests() int64 {
	return r.requests.Count()
}

// Read lists the HPAs, pods, Events, PodMetrics and, when options ask, PodDisruptionBudgets and
// ResourceQuotas of the selected namespaces (one request per kind and namespace), then gets each distinct scale target
// and each distinct metric that the HPAs use. Failing to list HPAs or pods, or to discover the
// served APIs, returns an error. Other failures are recorded in the Snapshot, so that the report
// can show what it could not read.
func (r *LiveReader) Read(ctx context.Context, options LiveOptions) (*Snapshot, error) {
	if !options.AllNamespaces && len(options.Namespaces) == 0 {
		return nil, errors.New("no namespace to read: give a namespace or all namespaces")
	}
	snapshot := New("cluster")

	served, err := r.servedMetricsGroups()
	if err != nil {
		return nil, err
	}
	for _, group := range []string{ResourceMetricsGroup, CustomMetricsGroup, ExternalMetricsGroup} {
		if !served[group] {
			snapshot.Unavailable[group] = unservedError(group)
		}
	}

	scopes := options.Namespaces
	if options.AllNamespaces {
		scopes = []string{metav1.NamespaceAll}
	}
	for _, namespace := range scopes {
		if err := r.listNamespace(ctx, snapshot, namespace, options); err != nil {
			return nil, err
		}
	}

	if err := r.readScales(ctx, snapshot); err != nil {
		return nil, err
	}
	if err := r.readCustomAndExternalMetrics(ctx, snapshot); err != nil {
		return nil, err
	}
	snapshot.sortObjects()
	return snapshot, nil
}

// servedMetricsGroups returns which of the three metrics API groups the server serves.
// A cached group list that lacks a group is refreshed once, so that a metrics adapter installed since
// the cache was written is seen.
func (r *LiveReader) servedMetricsGroups() (map[string]bool, error) {
	served, err := r.serverGroups()
	if err != nil {
		return nil, err
	}
	cached, isCached := r.clients.Discovery.(discovery.CachedDiscoveryInterface)
	if isCached && !cached.Fresh() && !(served[ResourceMetricsGroup] && served[CustomMetricsGroup] && served[ExternalMetricsGroup]) {
		cached.Invalidate()
		return r.serverGroups()
	}
	return served, nil
}

func (r *LiveReader) serverGroups() (map[string]bool, error) {
	groups, err := r.clients.Discovery.ServerGroups()
	if err != nil {
		return nil, fmt.Errorf("failed to discover the API groups of the cluster: %w", err)
	}
	served := map[string]bool{}
	for _, group := range groups.Groups {
		served[group.Name] = true
	}
	return served, nil
}

func unservedError(group string) error {
	switch group {
	case ResourceMetricsGroup:
		return errors.New("metrics.k8s.io is not served by this cluster: install metrics-server to get CPU and memory metrics")
	case CustomMetricsGroup:
		return errors.New("custom.metrics.k8s.io is not served by this cluster: install a custom metrics adapter (prometheus-adapter, KEDA) for Pods and Object metrics")
	default:
		return errors.New("external.metrics.k8s.io is not served by this cluster: install an external metrics adapter (KEDA, prometheus-adapter) for External metrics")
	}
}

// listNamespace lists every kind of one namespace (all namespaces for metav1.NamespaceAll).
func (r *LiveReader) listNamespace(ctx context.Context, snapshot *Snapshot, namespace string, options LiveOptions) error {
	core := r.clients.Kube.CoreV1()
	listOptions := metav1.ListOptions{}

	// The lists are independent, so they run concurrently; each result is merged after Wait.
	var (
		hpas            *autoscalingv2.HorizontalPodAutoscalerList
		pods            *corev1.PodList
		events          *corev1.EventList
		budgets         *policyv1.PodDisruptionBudgetList
		quotas          *corev1.ResourceQuotaList
		podMetrics      *metricsv1beta1.PodMetricsList
		eventsErr       error
		budgetsErr      error
		quotasErr       error
		podMetricsErr   error
		metricsServed   = snapshot.Unavailable[ResourceMetricsGroup] == nil
		group, groupCtx = errgroup.WithContext(ctx)
	)
	group.Go(func() (err error) {
		hpas, err = r.clients.Kube.AutoscalingV2().HorizontalPodAutoscalers(namespace).List(groupCtx, listOptions)
		if err != nil {
			return requestFailed(err, "list", "horizontalpodautoscalers.autoscaling", namespace)
		}
		return nil
	})
	group.Go(func() (err error) {
		pods, err = core.Pods(namespace).List(groupCtx, listOptions)
		if err != nil {
			return requestFailed(err, "list", "pods", namespace)
		}
		return nil
	})
	group.Go(func() error {
		// Only Events about HPAs are read: the SuccessfulRescale history and the controller's warnings.
		events, eventsErr = core.Events(namespace).List(groupCtx, metav1.ListOptions{FieldSelector: "involvedObject.kind=HorizontalPodAutoscaler"})
		return nil
	})
	if options.PodDisruptionBudgets {
		group.Go(func() error {
			budgets, budgetsErr = r.clients.Kube.PolicyV1().PodDisruptionBudgets(namespace).List(groupCtx, listOptions)
			return nil
		})
	}
	if options.ResourceQuotas {
		group.Go(func() error {
			quotas, quotasErr = core.ResourceQuotas(namespace).List(groupCtx, listOptions)
			return nil
		})
	}
	if metricsServed {
		group.Go(func() error {
			podMetrics, podMetricsErr = r.clients.Metrics.MetricsV1beta1().PodMetricses(namespace).List(groupCtx, listOptions)
			return nil
		})
	}
	if err := group.Wait(); err != nil {
		return err
	}

	snapshot.HPAs = append(snapshot.HPAs, hpas.Items...)
	snapshot.Pods = append(snapshot.Pods, pods.Items...)
	if eventsErr != nil {
		recordUnavailable(snapshot, EventsResource, requestFailed(eventsErr, "list", "events", namespace))
	} else {
		snapshot.Events = append(snapshot.Events, events.Items...)
	}
	if budgetsErr != nil {
		recordUnavailable(snapshot, PodDisruptionBudgetsResource, requestFailed(budgetsErr, "list", "poddisruptionbudgets.policy", namespace))
	} else if budgets != nil {
		snapshot.PodDisruptionBudgets = append(snapshot.PodDisruptionBudgets, budgets.Items...)
	}
	if quotasErr != nil {
		recordUnavailable(snapshot, ResourceQuotasResource, requestFailed(quotasErr, "list", "resourcequotas", namespace))
	} else if quotas != nil {
		snapshot.ResourceQuotas = append(snapshot.ResourceQuotas, quotas.Items...)
	}

	if !metricsServed || len(hpas.Items) == 0 {
		return nil
	}
	if podMetricsErr != nil {
		failure := requestFailed(podMetricsErr, "list", "podmetrics.metrics.k8s.io", namespace)
		for _, namespace := range hpaNamespaces(hpas.Items) {
			snapshot.RequestErrors[MetricRequest{Group: ResourceMetricsGroup, Namespace: namespace}] = failure
		}
		return nil
	}
	snapshot.PodMetrics = append(snapshot.PodMetrics, podMetrics.Items...)
	return nil
}

// recordUnavailable keeps the first error for key.
func recordUnavailable(snapshot *Snapshot, key string, err error) {
	klog.V(1).InfoS("Continuing without a resource", "resource", key, "err", err)
	if snapshot.Unavailable[key] == nil {
		snapshot.Unavailable[key] = err
	}
}

func hpaNamespaces(hpas []autoscalingv2.HorizontalPodAutoscaler) []string {
	seen := map[string]bool{}
	var namespaces []string
	for i := range hpas {
		if !seen[hpas[i].Namespace] {
			seen[hpas[i].Namespace] = true
			namespaces = append(namespaces, hpas[i].Namespace)
		}
	}
	sort.Strings(namespaces)
	return namespaces
}

// scaleTarget identifies one scale target, shared by the HPAs that name it.
type scaleTarget struct {
	namespace string
	groupKind schema.GroupKind
	name      string
}

// readScales gets the scale subresource of each distinct scale target, once.
func (r *LiveReader) readScales(ctx context.Context, snapshot *Snapshot) error {
	// Each distinct scale target is read once, with at most scaleReadConcurrency GETs at a time.
	targets := map[types.NamespacedName]scaleTarget{}
	results := map[scaleTarget]*ScaleResult{}
	for i := range snapshot.HPAs {
		hpaObj := &snapshot.HPAs[i]
		key := types.NamespacedName{Namespace: hpaObj.Namespace, Name: hpaObj.Name}
		ref := hpaObj.Spec.ScaleTargetRef

		groupVersion, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil {
			snapshot.Scales[key] = ScaleResult{Err: fmt.Errorf("invalid API version in scale target reference: %w", err)}
			continue
		}
		target := scaleTarget{namespace: hpaObj.Namespace, groupKind: schema.GroupKind{Group: groupVersion.Group, Kind: ref.Kind}, name: ref.Name}
		targets[key] = target
		results[target] = &ScaleResult{}
	}

	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(scaleReadConcurrency)
	for target, result := range results {
		group.Go(func() error {
			if err := groupCtx.Err(); err != nil {
				return err
			}
			*result = r.getScale(groupCtx, target)
			return nil
		})
	}
	if err := group.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for key, target := range targets {
		snapshot.Scales[key] = *results[target]
	}
	return nil
}

// getScale reads a scale subresource as the controller does: it tries each REST mapping of the
// target's group and kind and returns the first scale read, else the first mapping's error.
func (r *LiveReader) getScale(ctx context.Context, target scaleTarget) ScaleResult {
	mappings, err := r.clients.Mapper.RESTMappings(target.groupKind)
	if err != nil {
		return ScaleResult{Err: fmt.Errorf("unable to determine resource for scale target reference: %w", err)}
	}
	if len(mappings) == 0 {
		return ScaleResult{Err: errors.New("unrecognized resource")}
	}

	var firstErr error
	for _, mapping := range mappings {
		resource := mapping.Resource.GroupResource()
		scaleObj, err := r.clients.Scales.Scales(target.namespace).Get(ctx, resource, target.name, metav1.GetOptions{})
		if err == nil {
			return ScaleResult{Scale: hpa.Scale{
				SpecReplicas:   scaleObj.Spec.Replicas,
				StatusReplicas: scaleObj.Status.Replicas,
				Selector:       scaleObj.Status.Selector,
			}}
		}
		if firstErr == nil {
			firstErr = requestFailed(err, "get", resource.String()+"/scale", target.namespace)
		}
	}
	return ScaleResult{Err: firstErr}
}

// requestFailed wraps a request error. A Forbidden error names the verb and resource to grant.
func requestFailed(err error, verb, resource, namespace string) error {
	where := "in namespace " + namespace
	if namespace == metav1.NamespaceAll {
		where = "in all namespaces"
	}
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("failed to %s %s %s: permission denied: grant the verb %q on %s (%s has every permission kubectl-mlflow needs): %w",
			verb, resource, where, verb, resource, RBACManifest, err)
	}
	return fmt.Errorf("failed to %s %s %s: %w", verb, resource, where, err)
}
