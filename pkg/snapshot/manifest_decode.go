package snapshot

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	custommetricsv1beta1 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta1"
	custommetricsv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	externalmetricsv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	sigsjson "sigs.k8s.io/json"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// Annotations of an autoscaling/v1 Scale object in a manifest, which stands for the scale
// subresource of a kind that has no built-in reader (an Argo Rollout, a custom resource).
// A Scale with ScaleTargetKindAnnotation is the scale of the HPA whose scaleTargetRef has that kind
// and the Scale's name (and, with ScaleTargetAPIVersionAnnotation, the same API group). A Scale
// without it is the scale of any scale target of its name that no Deployment, StatefulSet or
// ReplicaSet in the manifests matches.
const (
	ScaleTargetKindAnnotation       = "kubectl-mlflow.io/scale-target-kind"
	ScaleTargetAPIVersionAnnotation = "kubectl-mlflow.io/scale-target-api-version"
)

// manifestDecoder collects the objects of all documents, then resolves scales and validates.
type manifestDecoder struct {
	namespace string
	snapshot  *Snapshot
	workloads map[workloadKey]hpa.Scale
	scales    []scaleObject
	// origins maps "Kind namespace/name" to where the object was read, to report duplicates and
	// to name the file in validation errors.
	origins  map[string]string
	problems []error
}

type workloadKey struct {
	group, kind, namespace, name string
}

type scaleObject struct {
	// targetKind and targetGroup come from the annotations; targetKind is empty when unannotated.
	targetKind, targetGroup string
	hasGroup                bool
	namespace, name         string
	scale                   hpa.Scale
}

func newManifestDecoder(namespace string) *manifestDecoder {
	return &manifestDecoder{
		namespace: namespace,
		snapshot:  New("manifests"),
		workloads: map[workloadKey]hpa.Scale{},
		origins:   map[string]string{},
	}
}

// decodeObject decodes one object by its kind. It returns an error only for malformed input; other
// problems are collected and returned by finish.
func (r *manifestDecoder) decodeObject(doc *document) error {
	groupKind := groupKindOf(doc.meta)
	version := strings.TrimPrefix(doc.meta.APIVersion, groupKind.Group+"/")

	switch groupKind.String() {
	case "HorizontalPodAutoscaler.autoscaling":
		return r.decodeHPA(doc, version)
	case "Deployment.apps", "StatefulSet.apps", "ReplicaSet.apps":
		if version != "v1" {
			return r.unsupportedVersion(doc, "apps/v1")
		}
		return r.decodeWorkload(doc)
	case "Scale.autoscaling":
		if version != "v1" {
			return r.unsupportedVersion(doc, "autoscaling/v1")
		}
		return r.decodeScale(doc)
	case "Pod":
		var pod corev1.Pod
		if err := r.decodeNamespaced(doc, &pod, &pod.ObjectMeta); err != nil {
			return err
		}
		r.snapshot.Pods = append(r.snapshot.Pods, pod)
	case "Event":
		var event corev1.Event
		if err := r.decodeNamespaced(doc, &event, &event.ObjectMeta); err != nil {
			return err
		}
		if event.InvolvedObject.Namespace == "" {
			event.InvolvedObject.Namespace = event.Namespace
		}
		r.snapshot.Events = append(r.snapshot.Events, event)
	case "ResourceQuota":
		var quota corev1.ResourceQuota
		if err := r.decodeNamespaced(doc, &quota, &quota.ObjectMeta); err != nil {
			return err
		}
		r.snapshot.ResourceQuotas = append(r.snapshot.ResourceQuotas, quota)
	case "Namespace":
		var namespace corev1.Namespace
		if err := r.decode(doc, &namespace); err != nil {
			return err
		}
		r.snapshot.Namespaces = append(r.snapshot.Namespaces, namespace)
	case "PodDisruptionBudget.policy":
		if version != "v1" {
			return r.unsupportedVersion(doc, "policy/v1")
		}
		var budget policyv1.PodDisruptionBudget
		if err := r.decodeNamespaced(doc, &budget, &budget.ObjectMeta); err != nil {
			return err
		}
		r.snapshot.PodDisruptionBudgets = append(r.snapshot.PodDisruptionBudgets, budget)
	case "PodMetrics.metrics.k8s.io":
		var podMetrics metricsv1beta1.PodMetrics
		if err := r.decodeNamespaced(doc, &podMetrics, &podMetrics.ObjectMeta); err != nil {
			return err
		}
		r.snapshot.PodMetrics = append(r.snapshot.PodMetrics, podMetrics)
	case "MetricValue.custom.metrics.k8s.io":
		return r.decodeMetricValue(doc, version)
	case "ExternalMetricValue.external.metrics.k8s.io":
		var value externalmetricsv1beta1.ExternalMetricValue
		if err := r.decode(doc, &value); err != nil {
			return err
		}
		r.snapshot.ExternalMetrics = append(r.snapshot.ExternalMetrics, ExternalMetricValue{Namespace: r.namespace, ExternalMetricValue: value})
	case "Secret":
		logSkipped(doc, "Secrets are never read")
	default:
		logSkipped(doc, "no command uses this kind")
	}
	return nil
}

// decode unmarshals a document into obj. Unknown and duplicate fields become notes, because the
// API server drops them with a warning, and a misspelt field in an HPA changes the decision.
func (r *manifestDecoder) decode(doc *document, obj any) error {
	strictErrors, err := sigsjson.UnmarshalStrict(doc.json, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return fmt.Errorf("%s: %s %s is malformed: %w", doc.position(), doc.meta.Kind, doc.meta.Metadata.Name, err)
	}
	for _, strictErr := range strictErrors {
		r.snapshot.Notes = append(r.snapshot.Notes, fmt.Sprintf("%s: %s %s: %v (the API server would drop it)",
			doc.position(), doc.meta.Kind, doc.meta.Metadata.Name, strictErr))
	}
	return nil
}

// decodeNamespaced decodes a namespaced object, gives it the default namespace when it has none,
// and reports a second object of the same kind, namespace and name.
func (r *manifestDecoder) decodeNamespaced(doc *document, obj any, meta *metav1.ObjectMeta) error {
	if err := r.decode(doc, obj); err != nil {
		return err
	}
	if meta.Namespace == "" {
		meta.Namespace = r.namespace
	}
	r.recordOrigin(doc, meta.Namespace, meta.Name)
	return nil
}

func (r *manifestDecoder) recordOrigin(doc *document, namespace, name string) {
	key := fmt.Sprintf("%s %s/%s", doc.meta.Kind, namespace, name)
	if name == "" {
		r.problems = append(r.problems, fmt.Errorf("%s: %s has no metadata.name: give every object a name", doc.position(), doc.meta.Kind))
		return
	}
	if previous, found := r.origins[key]; found {
		r.problems = append(r.problems, fmt.Errorf("%s: %s is defined again (first in %s): keep one of them", doc.position(), key, previous))
		return
	}
	r.origins[key] = doc.file
}

func (r *manifestDecoder) unsupportedVersion(doc *document, supported string) error {
	r.problems = append(r.problems, fmt.Errorf("%s: %s %s has apiVersion %s, which Kubernetes v1.37 does not serve: use %s",
		doc.position(), doc.meta.Kind, doc.meta.Metadata.Name, doc.meta.APIVersion, supported))
	return nil
}

func (r *manifestDecoder) decodeHPA(doc *document, version string) error {
	var hpaObj autoscalingv2.HorizontalPodAutoscaler
	switch version {
	case "v2":
		if err := r.decodeNamespaced(doc, &hpaObj, &hpaObj.ObjectMeta); err != nil {
			return err
		}
	case "v1":
		var v1 autoscalingv1.HorizontalPodAutoscaler
		if err := r.decodeNamespaced(doc, &v1, &v1.ObjectMeta); err != nil {
			return err
		}
		hpaObj = convertHPAFromV1(&v1)
		r.snapshot.Notes = append(r.snapshot.Notes, fmt.Sprintf("%s: HorizontalPodAutoscaler %s/%s was converted from autoscaling/v1 to autoscaling/v2, as the API server serves it",
			doc.file, hpaObj.Namespace, hpaObj.Name))
	default:
		return r.unsupportedVersion(doc, "autoscaling/v2")
	}
	r.snapshot.HPAs = append(r.snapshot.HPAs, hpaObj)
	return nil
}

// decodeWorkload reads the scale of a Deployment, StatefulSet or ReplicaSet as its scale
// subresource returns it: spec.replicas (1 when unset), status.replicas and spec.selector.
func (r *manifestDecoder) decodeWorkload(doc *document) error {
	var meta *metav1.ObjectMeta
	var replicas *int32
	var statusReplicas int32
	var selector *metav1.LabelSelector
	var templateLabels map[string]string

	switch doc.meta.Kind {
	case "Deployment":
		var obj appsv1.Deployment
		if err := r.decodeNamespaced(doc, &obj, &obj.ObjectMeta); err != nil {
			return err
		}
		meta, replicas, statusReplicas, selector, templateLabels = &obj.ObjectMeta, obj.Spec.Replicas, obj.Status.Replicas, obj.Spec.Selector, obj.Spec.Template.Labels
	case "StatefulSet":
		var obj appsv1.StatefulSet
		if err := r.decodeNamespaced(doc, &obj, &obj.ObjectMeta); err != nil {
			return err
		}
		meta, replicas, statusReplicas, selector, templateLabels = &obj.ObjectMeta, obj.Spec.Replicas, obj.Status.Replicas, obj.Spec.Selector, obj.Spec.Template.Labels
	default:
		var obj appsv1.ReplicaSet
		if err := r.decodeNamespaced(doc, &obj, &obj.ObjectMeta); err != nil {
			return err
		}
		meta, replicas, statusReplicas, selector, templateLabels = &obj.ObjectMeta, obj.Spec.Replicas, obj.Status.Replicas, obj.Spec.Selector, obj.Spec.Template.Labels
	}

	object := fmt.Sprintf("%s: %s %s/%s", doc.file, doc.meta.Kind, meta.Namespace, meta.Name)
	scale := hpa.Scale{SpecReplicas: 1, StatusReplicas: statusReplicas}
	if replicas != nil {
		scale.SpecReplicas = *replicas
	}
	if scale.SpecReplicas < 0 {
		r.problems = append(r.problems, fmt.Errorf("%s: spec.replicas is %d: set it to 0 or more", object, scale.SpecReplicas))
	}
	scale.Selector, r.problems = workloadSelector(object, selector, templateLabels, r.problems)

	r.workloads[workloadKey{group: "apps", kind: doc.meta.Kind, namespace: meta.Namespace, name: meta.Name}] = scale
	return nil
}

// workloadSelector returns spec.selector in the string form of scale.status.selector, and adds a
// problem when the API server would reject the selector.
func workloadSelector(object string, selector *metav1.LabelSelector, templateLabels map[string]string, problems []error) (string, []error) {
	if selector == nil || (len(selector.MatchLabels) == 0 && len(selector.MatchExpressions) == 0) {
		return "", append(problems, fmt.Errorf("%s: spec.selector is missing or empty: set spec.selector.matchLabels to the pod template's labels", object))
	}
	parsed, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return "", append(problems, fmt.Errorf("%s: spec.selector is invalid: %w", object, err))
	}
	if !parsed.Matches(labels.Set(templateLabels)) {
		problems = append(problems, fmt.Errorf("%s: spec.selector %q does not match spec.template.metadata.labels: make the template labels match the selector", object, parsed.String()))
	}
	return parsed.String(), problems
}

func (r *manifestDecoder) decodeScale(doc *document) error {
	var obj autoscalingv1.Scale
	if err := r.decodeNamespaced(doc, &obj, &obj.ObjectMeta); err != nil {
		return err
	}
	scale := scaleObject{
		namespace: obj.Namespace,
		name:      obj.Name,
		scale:     hpa.Scale{SpecReplicas: obj.Spec.Replicas, StatusReplicas: obj.Status.Replicas, Selector: obj.Status.Selector},
	}
	scale.targetKind = obj.Annotations[ScaleTargetKindAnnotation]
	if apiVersion, found := obj.Annotations[ScaleTargetAPIVersionAnnotation]; found {
		scale.targetGroup = groupOf(apiVersion)
		scale.hasGroup = true
	}
	if obj.Spec.Replicas < 0 {
		r.problems = append(r.problems, fmt.Errorf("%s: Scale %s/%s: spec.replicas is %d: set it to 0 or more", doc.file, obj.Namespace, obj.Name, obj.Spec.Replicas))
	}
	r.scales = append(r.scales, scale)
	return nil
}

// decodeMetricValue reads a custom metric value. Values of the older v1beta1 API are converted to
// v1beta2: metricName and selector move under metric.
func (r *manifestDecoder) decodeMetricValue(doc *document, version string) error {
	var value custommetricsv1beta2.MetricValue
	switch version {
	case "v1beta2":
		if err := r.decode(doc, &value); err != nil {
			return err
		}
	case "v1beta1":
		var old custommetricsv1beta1.MetricValue
		if err := r.decode(doc, &old); err != nil {
			return err
		}
		value = custommetricsv1beta2.MetricValue{
			DescribedObject: old.DescribedObject,
			Metric:          custommetricsv1beta2.MetricIdentifier{Name: old.MetricName, Selector: old.Selector},
			Timestamp:       old.Timestamp,
			WindowSeconds:   old.WindowSeconds,
			Value:           old.Value,
		}
	default:
		return r.unsupportedVersion(doc, "custom.metrics.k8s.io/v1beta2")
	}

	described := &value.DescribedObject
	if described.Kind == "" || described.Name == "" {
		r.problems = append(r.problems, fmt.Errorf("%s: MetricValue of metric %q has no describedObject kind or name: set both", doc.position(), value.Metric.Name))
		return nil
	}
	// A Namespace is cluster-scoped and is the object of its own metrics.
	if described.Namespace == "" && described.Kind != "Namespace" {
		described.Namespace = r.namespace
	}
	r.snapshot.CustomMetrics = append(r.snapshot.CustomMetrics, value)
	return nil
}

// finish applies HPA defaults, validates, resolves each HPA's scale and returns the snapshot.
func (r *manifestDecoder) finish() (*Snapshot, error) {
	for i := range r.snapshot.HPAs {
		hpaObj := &r.snapshot.HPAs[i]
		file := r.origins[fmt.Sprintf("HorizontalPodAutoscaler %s/%s", hpaObj.Namespace, hpaObj.Name)]
		for _, note := range SetHPADefaults(hpaObj) {
			r.snapshot.Notes = append(r.snapshot.Notes, file+": "+note)
		}
		r.problems = append(r.problems, ValidateHPA(file, hpaObj)...)
	}
	if len(r.problems) > 0 {
		return nil, errors.Join(r.problems...)
	}

	for i := range r.snapshot.HPAs {
		hpaObj := &r.snapshot.HPAs[i]
		key := types.NamespacedName{Namespace: hpaObj.Namespace, Name: hpaObj.Name}
		r.snapshot.Scales[key] = r.resolveScale(hpaObj)
	}
	if len(r.snapshot.ExternalMetrics) > 0 {
		r.snapshot.Notes = append(r.snapshot.Notes, fmt.Sprintf("external metric values from files were taken as values of namespace %s, because they carry no namespace", r.namespace))
	}
	sort.Strings(r.snapshot.Notes)
	r.snapshot.sortObjects()
	return r.snapshot, nil
}

// resolveScale finds the scale of an HPA's target: a Deployment, StatefulSet or ReplicaSet of the
// same group, kind and name, else a Scale object that matches it (see ScaleTargetKindAnnotation).
func (r *manifestDecoder) resolveScale(hpaObj *autoscalingv2.HorizontalPodAutoscaler) ScaleResult {
	ref := hpaObj.Spec.ScaleTargetRef
	group := groupOf(ref.APIVersion)
	if scale, found := r.workloads[workloadKey{group: group, kind: ref.Kind, namespace: hpaObj.Namespace, name: ref.Name}]; found {
		return ScaleResult{Scale: scale}
	}

	var unannotated *scaleObject
	for i := range r.scales {
		candidate := &r.scales[i]
		if candidate.namespace != hpaObj.Namespace || candidate.name != ref.Name {
			continue
		}
		if candidate.targetKind == "" {
			if unannotated == nil {
				unannotated = candidate
			}
			continue
		}
		if candidate.targetKind == ref.Kind && (!candidate.hasGroup || candidate.targetGroup == group) {
			return ScaleResult{Scale: candidate.scale}
		}
	}
	if unannotated != nil {
		return ScaleResult{Scale: unannotated.scale}
	}

	return ScaleResult{Err: fmt.Errorf("scale target %s %s/%s (apiVersion %s) of HorizontalPodAutoscaler %s/%s is not in the manifests: add the %s, or an autoscaling/v1 Scale named %s with annotation %s: %s",
		ref.Kind, hpaObj.Namespace, ref.Name, ref.APIVersion, hpaObj.Namespace, hpaObj.Name, ref.Kind, ref.Name, ScaleTargetKindAnnotation, ref.Kind)}
}
