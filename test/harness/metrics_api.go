package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	custommetricsv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	externalmetricsv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// apiServerCallTimeout bounds each request that the metrics server sends to the API server to
// find the objects a label selector selects.
const apiServerCallTimeout = 10 * time.Second

var (
	resourceMetricsVersion = metricsv1beta1.SchemeGroupVersion
	customMetricsVersion   = custommetricsv1beta2.SchemeGroupVersion
	externalMetricsVersion = externalmetricsv1beta1.SchemeGroupVersion
	servedVersions         = []schema.GroupVersion{resourceMetricsVersion, customMetricsVersion, externalMetricsVersion}
)

func (m *MetricsServer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/apis", m.serveGroupList)
	mux.HandleFunc("/apis/{$}", m.serveGroupList)
	mux.HandleFunc("/apis/"+resourceMetricsVersion.Group+"/", m.serveGroup(resourceMetricsVersion, m.resourceMetricsResources, m.serveResourceMetrics))
	mux.HandleFunc("/apis/"+customMetricsVersion.Group+"/", m.serveGroup(customMetricsVersion, m.customMetricsResources, m.serveCustomMetrics))
	mux.HandleFunc("/apis/"+externalMetricsVersion.Group+"/", m.serveGroup(externalMetricsVersion, m.externalMetricsResources, m.serveExternalMetrics))
	// The API server downloads the OpenAPI documents of every aggregated server and logs an
	// error each time one is missing.
	mux.HandleFunc("/openapi/v2", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"swagger": "2.0",
			"info":    map[string]string{"title": "kubectl-mlflow test metrics server", "version": "v0"},
			"paths":   map[string]any{},
		})
	})
	mux.HandleFunc("/openapi/v3", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"paths": map[string]any{}})
	})
	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("ok"))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("the test metrics server does not serve %s", r.URL.Path))
	})
	return mux
}

// serveGroupList serves /apis. Its plain JSON response (not an aggregated discovery document)
// makes the API server fall back to reading /apis/GROUP/VERSION for each APIService.
func (m *MetricsServer) serveGroupList(w http.ResponseWriter, r *http.Request) {
	list := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, version := range servedVersions {
		list.Groups = append(list.Groups, apiGroup(version))
	}
	writeJSON(w, http.StatusOK, list)
}

func apiGroup(version schema.GroupVersion) metav1.APIGroup {
	groupVersion := metav1.GroupVersionForDiscovery{GroupVersion: version.String(), Version: version.Version}
	return metav1.APIGroup{
		TypeMeta:         metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name:             version.Group,
		Versions:         []metav1.GroupVersionForDiscovery{groupVersion},
		PreferredVersion: groupVersion,
	}
}

// serveGroup serves the discovery documents of one group and passes requests for its
// resources to serveResources with the path segments after /apis/GROUP/VERSION/.
func (m *MetricsServer) serveGroup(version schema.GroupVersion, resources func() []metav1.APIResource, serveResources func(http.ResponseWriter, *http.Request, []string)) http.HandlerFunc {
	groupPath := "/apis/" + version.Group
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, fmt.Sprintf("%s is not supported: the metrics APIs are read-only", r.Method))
			return
		}
		rest := strings.Trim(strings.TrimPrefix(r.URL.Path, groupPath), "/")
		if rest == "" {
			writeJSON(w, http.StatusOK, apiGroup(version))
			return
		}
		segments := strings.Split(rest, "/")
		if segments[0] != version.Version {
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("version %q of %s is not served: the test metrics server serves %s", segments[0], version.Group, version))
			return
		}
		if len(segments) == 1 {
			writeJSON(w, http.StatusOK, metav1.APIResourceList{
				TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
				GroupVersion: version.String(),
				APIResources: resources(),
			})
			return
		}
		serveResources(w, r, segments[1:])
	}
}

func (m *MetricsServer) resourceMetricsResources() []metav1.APIResource {
	verbs := metav1.Verbs{"get", "list"}
	return []metav1.APIResource{
		{Name: "nodes", Kind: "NodeMetrics", Namespaced: false, Verbs: verbs},
		{Name: "pods", Kind: "PodMetrics", Namespaced: true, Verbs: verbs},
	}
}

// customMetricsResources lists RESOURCE/METRIC for every custom metric that was set, as custom
// metrics adapters advertise them.
func (m *MetricsServer) customMetricsResources() []metav1.APIResource {
	m.mu.Lock()
	defer m.mu.Unlock()
	namespaced := map[string]bool{}
	for key := range m.objectMetrics {
		namespaced[key.resource.String()+"/"+key.metric] = key.namespace != ""
	}
	return discoveryResources(namespaced, "MetricValueList")
}

func (m *MetricsServer) externalMetricsResources() []metav1.APIResource {
	m.mu.Lock()
	defer m.mu.Unlock()
	namespaced := map[string]bool{}
	for key := range m.external {
		namespaced[key.metric] = true
	}
	return discoveryResources(namespaced, "ExternalMetricValueList")
}

func discoveryResources(namespaced map[string]bool, kind string) []metav1.APIResource {
	resources := make([]metav1.APIResource, 0, len(namespaced))
	for name, isNamespaced := range namespaced {
		resources = append(resources, metav1.APIResource{Name: name, Kind: kind, Namespaced: isNamespaced, Verbs: metav1.Verbs{"get"}})
	}
	sort.Slice(resources, func(i, j int) bool { return resources[i].Name < resources[j].Name })
	return resources
}

// serveResourceMetrics serves metrics.k8s.io/v1beta1 PodMetrics and NodeMetrics. No node
// metrics are ever served, because the test cluster has no nodes.
func (m *MetricsServer) serveResourceMetrics(w http.ResponseWriter, r *http.Request, segments []string) {
	switch {
	case len(segments) == 1 && segments[0] == "nodes":
		writeJSON(w, http.StatusOK, metricsv1beta1.NodeMetricsList{TypeMeta: typeMeta(resourceMetricsVersion, "NodeMetricsList")})
	case len(segments) == 2 && segments[0] == "nodes":
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("nodemetrics.metrics.k8s.io %q not found: the test cluster has no nodes", segments[1]))
	case len(segments) == 1 && segments[0] == "pods":
		m.listPodMetrics(w, r, metav1.NamespaceAll)
	case len(segments) == 3 && segments[0] == "namespaces" && segments[2] == "pods":
		m.listPodMetrics(w, r, segments[1])
	case len(segments) == 4 && segments[0] == "namespaces" && segments[2] == "pods":
		m.getPodMetrics(w, r, segments[1], segments[3])
	default:
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("the test metrics server does not serve %s", r.URL.Path))
	}
}

// listPodMetrics returns the metrics of the pods that exist and match the request's label and
// field selectors, as metrics-server does. Pods without metrics are left out.
func (m *MetricsServer) listPodMetrics(w http.ResponseWriter, r *http.Request, namespace string) {
	ctx, cancel := context.WithTimeout(r.Context(), apiServerCallTimeout)
	defer cancel()
	query := r.URL.Query()
	pods, err := m.cluster.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: query.Get("labelSelector"),
		FieldSelector: query.Get("fieldSelector"),
	})
	if err != nil {
		writeAPIError(w, fmt.Sprintf("list pods in namespace %q", namespace), err)
		return
	}

	list := metricsv1beta1.PodMetricsList{TypeMeta: typeMeta(resourceMetricsVersion, "PodMetricsList")}
	now := time.Now()
	m.mu.Lock()
	for i := range pods.Items {
		pod := &pods.Items[i]
		if s, ok := m.podMetrics[objectKey{pod.Namespace, pod.Name}]; ok {
			list.Items = append(list.Items, podMetricsObject(pod, s, now))
		}
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

func (m *MetricsServer) getPodMetrics(w http.ResponseWriter, r *http.Request, namespace, name string) {
	ctx, cancel := context.WithTimeout(r.Context(), apiServerCallTimeout)
	defer cancel()
	notFound := fmt.Sprintf("podmetrics.metrics.k8s.io %q not found in namespace %q", name, namespace)

	pod, err := m.cluster.Client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, notFound+": the pod does not exist")
		return
	}
	if err != nil {
		writeAPIError(w, fmt.Sprintf("get pod %s/%s", namespace, name), err)
		return
	}

	m.mu.Lock()
	s, ok := m.podMetrics[objectKey{namespace, name}]
	m.mu.Unlock()
	if !ok {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, notFound+": the test set no metrics for it")
		return
	}
	writeJSON(w, http.StatusOK, podMetricsObject(pod, s, time.Now()))
}

func podMetricsObject(pod *corev1.Pod, s podMetricsSample, now time.Time) metricsv1beta1.PodMetrics {
	timestamp := s.timestamp
	if timestamp.IsZero() {
		timestamp = now
	}
	names := make([]string, 0, len(s.containers))
	for name := range s.containers {
		names = append(names, name)
	}
	sort.Strings(names)

	object := metricsv1beta1.PodMetrics{
		TypeMeta: typeMeta(resourceMetricsVersion, "PodMetrics"),
		ObjectMeta: metav1.ObjectMeta{
			Name:              pod.Name,
			Namespace:         pod.Namespace,
			Labels:            pod.Labels,
			CreationTimestamp: metav1.NewTime(now),
		},
		Timestamp: metav1.NewTime(timestamp),
		Window:    metav1.Duration{Duration: s.window},
	}
	for _, name := range names {
		object.Containers = append(object.Containers, metricsv1beta1.ContainerMetrics{Name: name, Usage: s.containers[name].DeepCopy()})
	}
	return object
}

// customMetricRequest is a parsed custom.metrics.k8s.io/v1beta2 request path.
type customMetricRequest struct {
	namespace string // empty for cluster-scoped objects
	resource  schema.GroupResource
	name      string // "*" selects objects by the labelSelector query parameter
	metric    string
}

// parseCustomMetricPath parses the segments after /apis/custom.metrics.k8s.io/v1beta2/:
//
//	namespaces/NS/metrics/METRIC          a metric of namespace NS
//	namespaces/NS/RESOURCE/NAME/METRIC    a metric of a namespaced object, or of all selected ones if NAME is *
//	RESOURCE/NAME/METRIC                  a metric of a cluster-scoped object, or of all selected ones
func parseCustomMetricPath(segments []string) (customMetricRequest, bool) {
	switch {
	case len(segments) == 4 && segments[0] == "namespaces" && segments[2] == "metrics":
		return customMetricRequest{resource: schema.GroupResource{Resource: "namespaces"}, name: segments[1], metric: segments[3]}, true
	case len(segments) == 5 && segments[0] == "namespaces":
		return customMetricRequest{namespace: segments[1], resource: schema.ParseGroupResource(segments[2]), name: segments[3], metric: segments[4]}, true
	case len(segments) == 3:
		return customMetricRequest{resource: schema.ParseGroupResource(segments[0]), name: segments[1], metric: segments[2]}, true
	}
	return customMetricRequest{}, false
}

func (m *MetricsServer) serveCustomMetrics(w http.ResponseWriter, r *http.Request, segments []string) {
	request, ok := parseCustomMetricPath(segments)
	if !ok {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("invalid custom metrics path %s: expected namespaces/NS/RESOURCE/NAME/METRIC, RESOURCE/NAME/METRIC or namespaces/NS/metrics/METRIC", r.URL.Path))
		return
	}
	query := r.URL.Query()
	metricSelector, err := labels.Parse(query.Get("metricLabelSelector"))
	if err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("invalid metricLabelSelector %q: %v", query.Get("metricLabelSelector"), err))
		return
	}
	identifier := custommetricsv1beta2.MetricIdentifier{Name: request.metric}
	if selector := query.Get("metricLabelSelector"); selector != "" {
		if identifier.Selector, err = metav1.ParseToLabelSelector(selector); err != nil {
			writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("invalid metricLabelSelector %q: %v", selector, err))
			return
		}
	}

	names := []string{request.name}
	if request.name == "*" {
		if !m.hasCustomMetric(request) {
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("the server could not find the metric %s for %s: the test set no value for it", request.metric, request.resource))
			return
		}
		if names, err = m.selectObjects(r.Context(), request, query.Get("labelSelector")); err != nil {
			writeAPIError(w, fmt.Sprintf("list %s in namespace %q", request.resource, request.namespace), err)
			return
		}
	}

	kind, apiVersion := m.kindOf(request.resource)
	list := custommetricsv1beta2.MetricValueList{TypeMeta: typeMeta(customMetricsVersion, "MetricValueList")}
	now := time.Now()
	for _, name := range names {
		s, ok := m.lookupCustomMetric(request, name)
		if !ok || !metricSelector.Matches(labels.Set(s.metricLabels)) {
			continue
		}
		list.Items = append(list.Items, custommetricsv1beta2.MetricValue{
			DescribedObject: corev1.ObjectReference{Kind: kind, APIVersion: apiVersion, Namespace: request.namespace, Name: name},
			Metric:          identifier,
			Timestamp:       metav1.NewTime(timestampOrNow(s.timestamp, now)),
			WindowSeconds:   windowSeconds(s.window),
			Value:           s.value.DeepCopy(),
		})
	}

	if request.name != "*" && len(list.Items) == 0 {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("the server could not find the metric %s for %s %s: the test set no value for it that matches metricLabelSelector %q", request.metric, request.resource, request.name, query.Get("metricLabelSelector")))
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// groupMatches reports whether a stored resource matches a requested one. A request without a
// group, such as .../ingresses/NAME/METRIC, matches the resource in any group.
func groupMatches(stored, requested schema.GroupResource) bool {
	return stored.Resource == requested.Resource && (requested.Group == "" || stored.Group == requested.Group)
}

func (m *MetricsServer) lookupCustomMetric(request customMetricRequest, name string) (sample, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.objectMetrics[objectMetricKey{request.namespace, request.resource, name, request.metric}]; ok {
		return s, true
	}
	for key, s := range m.objectMetrics {
		if key.namespace == request.namespace && key.name == name && key.metric == request.metric && groupMatches(key.resource, request.resource) {
			return s, true
		}
	}
	return sample{}, false
}

func (m *MetricsServer) hasCustomMetric(request customMetricRequest) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key := range m.objectMetrics {
		if key.namespace == request.namespace && key.metric == request.metric && groupMatches(key.resource, request.resource) {
			return true
		}
	}
	return false
}

// selectObjects returns the names of the objects of a resource that exist in the API server and
// match labelSelector, in order.
func (m *MetricsServer) selectObjects(ctx context.Context, request customMetricRequest, labelSelector string) ([]string, error) {
	resource, err := m.mapper.ResourceFor(request.resource.WithVersion(""))
	if err != nil {
		// The resource may be a custom resource defined after the mapper cached discovery.
		m.mapper.Reset()
		if resource, err = m.mapper.ResourceFor(request.resource.WithVersion("")); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, apiServerCallTimeout)
	defer cancel()
	objects, err := m.cluster.Dynamic.Resource(resource).Namespace(request.namespace).List(ctx, metav1.ListOptions{LabelSelector: labelSelector})
	if err != nil {
		return nil, err
	}
	names := sets.New[string]()
	for _, object := range objects.Items {
		names.Insert(object.GetName())
	}
	return sets.List(names), nil
}

// kindOf returns the kind and API version of a resource for MetricValue.describedObject, or
// empty strings when the API server does not serve the resource.
func (m *MetricsServer) kindOf(resource schema.GroupResource) (string, string) {
	kind, err := m.mapper.KindFor(resource.WithVersion(""))
	if err != nil {
		return "", ""
	}
	return kind.Kind, kind.GroupVersion().String()
}

// serveExternalMetrics serves namespaces/NS/METRIC: every series of the metric whose labels
// match the labelSelector query parameter.
func (m *MetricsServer) serveExternalMetrics(w http.ResponseWriter, r *http.Request, segments []string) {
	if len(segments) != 3 || segments[0] != "namespaces" {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("invalid external metrics path %s: expected namespaces/NS/METRIC", r.URL.Path))
		return
	}
	namespace, metric := segments[1], segments[2]
	selectorText := r.URL.Query().Get("labelSelector")
	selector, err := labels.Parse(selectorText)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("invalid labelSelector %q: %v", selectorText, err))
		return
	}

	m.mu.Lock()
	series, ok := m.external[externalMetricKey{namespace, metric}]
	list := externalmetricsv1beta1.ExternalMetricValueList{TypeMeta: typeMeta(externalMetricsVersion, "ExternalMetricValueList")}
	now := time.Now()
	for _, s := range series {
		if !selector.Matches(labels.Set(s.labels)) {
			continue
		}
		list.Items = append(list.Items, externalmetricsv1beta1.ExternalMetricValue{
			MetricName:    metric,
			MetricLabels:  copyLabels(s.labels),
			Timestamp:     metav1.NewTime(timestampOrNow(s.sample.timestamp, now)),
			WindowSeconds: windowSeconds(s.sample.window),
			Value:         s.sample.value.DeepCopy(),
		})
	}
	m.mu.Unlock()

	if !ok {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("the server could not find the external metric %s in namespace %s: the test set no value for it", metric, namespace))
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func timestampOrNow(timestamp, now time.Time) time.Time {
	if timestamp.IsZero() {
		return now
	}
	return timestamp
}

func windowSeconds(window time.Duration) *int64 {
	if window <= 0 {
		return nil
	}
	seconds := int64(window / time.Second)
	return &seconds
}

func typeMeta(version schema.GroupVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{Kind: kind, APIVersion: version.String()}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		http.Error(w, fmt.Sprintf("encode response: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	writeJSON(w, code, metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   reason,
		Code:     int32(code),
	})
}

// writeAPIError passes on the status of a failed API server request, such as 400 for an
// invalid label selector, and responds 500 for other errors.
func writeAPIError(w http.ResponseWriter, action string, err error) {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		if s.Code >= 400 {
			writeStatus(w, int(s.Code), s.Reason, fmt.Sprintf("%s: %s", action, s.Message))
			return
		}
	}
	writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, fmt.Sprintf("%s: %v", action, err))
}
