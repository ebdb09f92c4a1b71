package snapshot

import (
	"fmt"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// Limits of the autoscaling/v2 API validation in Kubernetes v1.37.
const (
	maxStabilizationWindowSeconds = 3600
	maxPolicyPeriodSeconds        = 1800
	defaultCPUUtilization         = 80
)

// SetHPADefaults applies the defaults that the v1.37 API server applies to an autoscaling/v2
// HPA: minReplicas 1, one Resource cpu Utilization 80 metric when metrics is empty, and the
// behavior defaults when spec.behavior is set. Each behavior field is defaulted on its own, and
// scaleDown.stabilizationWindowSeconds stays nil: the controller fills it from its flag.
//
// It returns a note for each default of minReplicas or metrics that it applied, naming the HPA,
// because those defaults change the decision and a manifest does not show them. The behavior
// defaults are left out: the report shows the behavior in effect.
func SetHPADefaults(hpaObj *autoscalingv2.HorizontalPodAutoscaler) []string {
	var notes []string
	object := fmt.Sprintf("HorizontalPodAutoscaler %s/%s", hpaObj.Namespace, hpaObj.Name)
	spec := &hpaObj.Spec
	if spec.MinReplicas == nil {
		spec.MinReplicas = int32Ptr(1)
		notes = append(notes, object+": spec.minReplicas is not set, so the API server's default (1) is used")
	}
	if len(spec.Metrics) == 0 {
		spec.Metrics = []autoscalingv2.MetricSpec{cpuUtilizationMetric(defaultCPUUtilization)}
		notes = append(notes, fmt.Sprintf("%s: spec.metrics is empty, so the API server's default (cpu at %d%% utilization) is used", object, defaultCPUUtilization))
	}
	spec.Behavior = hpa.DefaultBehavior(spec.Behavior)
	return notes
}

// convertHPAFromV1 converts an autoscaling/v1 HPA to autoscaling/v2 as the API server does:
// targetCPUUtilizationPercentage becomes a Resource cpu Utilization metric. The conditions that v1
// keeps in an annotation are not converted.
func convertHPAFromV1(v1 *autoscalingv1.HorizontalPodAutoscaler) autoscalingv2.HorizontalPodAutoscaler {
	out := autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: *v1.ObjectMeta.DeepCopy(),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				APIVersion: v1.Spec.ScaleTargetRef.APIVersion,
				Kind:       v1.Spec.ScaleTargetRef.Kind,
				Name:       v1.Spec.ScaleTargetRef.Name,
			},
			MinReplicas: v1.Spec.MinReplicas,
			MaxReplicas: v1.Spec.MaxReplicas,
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{
			ObservedGeneration: v1.Status.ObservedGeneration,
			LastScaleTime:      v1.Status.LastScaleTime,
			CurrentReplicas:    v1.Status.CurrentReplicas,
			DesiredReplicas:    v1.Status.DesiredReplicas,
		},
	}
	if v1.Spec.TargetCPUUtilizationPercentage != nil {
		out.Spec.Metrics = []autoscalingv2.MetricSpec{cpuUtilizationMetric(*v1.Spec.TargetCPUUtilizationPercentage)}
	}
	if v1.Status.CurrentCPUUtilizationPercentage != nil {
		out.Status.CurrentMetrics = []autoscalingv2.MetricStatus{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name:    corev1.ResourceCPU,
				Current: autoscalingv2.MetricValueStatus{AverageUtilization: v1.Status.CurrentCPUUtilizationPercentage},
			},
		}}
	}
	return out
}

func cpuUtilizationMetric(utilization int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU,
			Target: autoscalingv2.MetricTarget{
				Type:               autoscalingv2.UtilizationMetricType,
				AverageUtilization: int32Ptr(utilization),
			},
		},
	}
}

// ValidateHPA returns the problems that make the v1.37 API server reject a defaulted HPA, each
// naming file, the object and the field and saying what to change. minReplicas 0 is accepted with
// an Object or External metric, as with the HPAScaleToZero feature gate on (its v1.37 default).
func ValidateHPA(file string, hpaObj *autoscalingv2.HorizontalPodAutoscaler) []error {
	v := &hpaValidator{prefix: fmt.Sprintf("%s: HorizontalPodAutoscaler %s/%s", file, hpaObj.Namespace, hpaObj.Name)}
	spec := &hpaObj.Spec

	minReplicas := int32(1)
	if spec.MinReplicas != nil {
		minReplicas = *spec.MinReplicas
	}
	switch {
	case minReplicas < 0:
		v.add("spec.minReplicas", "is %d: set it to at least 1", minReplicas)
	case minReplicas == 0 && !hasObjectOrExternalMetric(spec.Metrics):
		v.add("spec.minReplicas", "is 0, which needs at least one Object or External metric: set it to at least 1 or add such a metric")
	}
	switch {
	case spec.MaxReplicas < 1:
		v.add("spec.maxReplicas", "is %d: set it to at least 1 and not below spec.minReplicas", spec.MaxReplicas)
	case spec.MaxReplicas < minReplicas:
		v.add("spec.maxReplicas", "(%d) is below spec.minReplicas (%d): raise spec.maxReplicas or lower spec.minReplicas", spec.MaxReplicas, minReplicas)
	}

	v.objectReference("spec.scaleTargetRef", spec.ScaleTargetRef, true)
	for i := range spec.Metrics {
		v.metric(fmt.Sprintf("spec.metrics[%d]", i), &spec.Metrics[i])
	}
	if spec.Behavior != nil {
		v.scalingRules("spec.behavior.scaleUp", spec.Behavior.ScaleUp)
		v.scalingRules("spec.behavior.scaleDown", spec.Behavior.ScaleDown)
	}
	return v.problems
}

type hpaValidator struct {
	prefix   string
	problems []error
}

func (v *hpaValidator) add(field, format string, args ...any) {
	v.problems = append(v.problems, fmt.Errorf("%s: %s %s", v.prefix, field, fmt.Sprintf(format, args...)))
}

// objectReference checks a scaleTargetRef or an Object metric's describedObject. The API server
// accepts an empty group (for example apiVersion v1) in both.
func (v *hpaValidator) objectReference(field string, ref autoscalingv2.CrossVersionObjectReference, isScaleTarget bool) {
	subject := "the described object's"
	if isScaleTarget {
		subject = "the scale target's"
	}
	if ref.Kind == "" {
		v.add(field+".kind", "is missing: set %s kind, for example Deployment", subject)
	} else if invalidPathSegment(ref.Kind) {
		v.add(field+".kind", "%q is invalid: a kind may not contain / or %% or be . or ..", ref.Kind)
	}
	if ref.Name == "" {
		v.add(field+".name", "is missing: set %s name", subject)
	} else if invalidPathSegment(ref.Name) {
		v.add(field+".name", "%q is invalid: a name may not contain / or %% or be . or ..", ref.Name)
	}
	if _, err := schema.ParseGroupVersion(ref.APIVersion); err != nil {
		v.add(field+".apiVersion", "%q is invalid: use group/version, for example apps/v1", ref.APIVersion)
	}
}

func invalidPathSegment(value string) bool {
	return value == "." || value == ".." || strings.ContainsAny(value, "/%")
}

func (v *hpaValidator) metric(field string, metric *autoscalingv2.MetricSpec) {
	sources := map[string]bool{
		"resource":          metric.Resource != nil,
		"containerResource": metric.ContainerResource != nil,
		"pods":              metric.Pods != nil,
		"object":            metric.Object != nil,
		"external":          metric.External != nil,
	}
	expected := map[autoscalingv2.MetricSourceType]string{
		autoscalingv2.ResourceMetricSourceType:          "resource",
		autoscalingv2.ContainerResourceMetricSourceType: "containerResource",
		autoscalingv2.PodsMetricSourceType:              "pods",
		autoscalingv2.ObjectMetricSourceType:            "object",
		autoscalingv2.ExternalMetricSourceType:          "external",
	}
	source, known := expected[metric.Type]
	if !known {
		v.add(field+".type", "%q is not supported: use Resource, ContainerResource, Pods, Object or External", metric.Type)
		return
	}
	if !sources[source] {
		v.add(field+"."+source, "is missing for type %s: add it", metric.Type)
		return
	}
	for _, other := range []string{"resource", "containerResource", "pods", "object", "external"} {
		if other != source && sources[other] {
			v.add(field+"."+other, "is set but type is %s: remove it, each metric has one source", metric.Type)
		}
	}

	switch metric.Type {
	case autoscalingv2.ResourceMetricSourceType:
		if metric.Resource.Name == "" {
			v.add(field+".resource.name", "is missing: set cpu or memory")
		}
		v.utilizationOrValue(field+".resource.target", metric.Resource.Target)
	case autoscalingv2.ContainerResourceMetricSourceType:
		if metric.ContainerResource.Name == "" {
			v.add(field+".containerResource.name", "is missing: set cpu or memory")
		}
		if metric.ContainerResource.Container == "" {
			v.add(field+".containerResource.container", "is missing: set the container's name")
		}
		v.utilizationOrValue(field+".containerResource.target", metric.ContainerResource.Target)
	case autoscalingv2.PodsMetricSourceType:
		v.metricIdentifier(field+".pods.metric", metric.Pods.Metric)
		v.target(field+".pods.target", metric.Pods.Target)
		if metric.Pods.Target.AverageValue == nil {
			v.add(field+".pods.target.averageValue", "is missing: a Pods metric needs a positive averageValue")
		}
	case autoscalingv2.ObjectMetricSourceType:
		v.objectReference(field+".object.describedObject", metric.Object.DescribedObject, false)
		v.metricIdentifier(field+".object.metric", metric.Object.Metric)
		v.target(field+".object.target", metric.Object.Target)
		if metric.Object.Target.Value == nil && metric.Object.Target.AverageValue == nil {
			v.add(field+".object.target", "has neither value nor averageValue: set one of them")
		}
	case autoscalingv2.ExternalMetricSourceType:
		v.metricIdentifier(field+".external.metric", metric.External.Metric)
		v.target(field+".external.target", metric.External.Target)
		target := metric.External.Target
		if target.Value == nil && target.AverageValue == nil {
			v.add(field+".external.target", "has neither value nor averageValue: set one of them")
		}
		if target.Value != nil && target.AverageValue != nil {
			v.add(field+".external.target", "sets both value and averageValue: keep one of them")
		}
	}
}

func (v *hpaValidator) utilizationOrValue(field string, target autoscalingv2.MetricTarget) {
	v.target(field, target)
	if target.AverageUtilization == nil && target.AverageValue == nil {
		v.add(field, "has neither averageUtilization nor averageValue: set one of them")
	}
	if target.AverageUtilization != nil && target.AverageValue != nil {
		v.add(field, "sets both averageUtilization and averageValue: keep one of them")
	}
}

func (v *hpaValidator) target(field string, target autoscalingv2.MetricTarget) {
	switch target.Type {
	case autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType:
	case "":
		v.add(field+".type", "is missing: set Utilization, Value or AverageValue")
	default:
		v.add(field+".type", "%q is not supported: use Utilization, Value or AverageValue", target.Type)
	}
	v.positive(field+".value", target.Value)
	v.positive(field+".averageValue", target.AverageValue)
	if target.AverageUtilization != nil && *target.AverageUtilization < 1 {
		v.add(field+".averageUtilization", "is %d: set a percentage of at least 1", *target.AverageUtilization)
	}
}

func (v *hpaValidator) positive(field string, quantity *resource.Quantity) {
	if quantity != nil && quantity.Sign() != 1 {
		v.add(field, "is %s: set a positive quantity", quantity.String())
	}
}

func (v *hpaValidator) metricIdentifier(field string, id autoscalingv2.MetricIdentifier) {
	if id.Name == "" {
		v.add(field+".name", "is missing: set the metric's name")
	} else if invalidPathSegment(id.Name) {
		v.add(field+".name", "%q is invalid: a metric name may not contain / or %% or be . or ..", id.Name)
	}
	if id.Selector != nil {
		if _, err := metav1.LabelSelectorAsSelector(id.Selector); err != nil {
			v.add(field+".selector", "is invalid: %v", err)
		}
	}
}

func (v *hpaValidator) scalingRules(field string, rules *autoscalingv2.HPAScalingRules) {
	if rules == nil {
		return
	}
	if window := rules.StabilizationWindowSeconds; window != nil && (*window < 0 || *window > maxStabilizationWindowSeconds) {
		v.add(field+".stabilizationWindowSeconds", "is %d: set it between 0 and %d", *window, maxStabilizationWindowSeconds)
	}
	if policy := rules.SelectPolicy; policy != nil {
		switch *policy {
		case autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect, autoscalingv2.DisabledPolicySelect:
		default:
			v.add(field+".selectPolicy", "%q is not supported: use Max, Min or Disabled", *policy)
		}
	}
	if len(rules.Policies) == 0 {
		v.add(field+".policies", "is empty: give at least one policy, or remove the rules to get the defaults")
	}
	for i, policy := range rules.Policies {
		policyField := fmt.Sprintf("%s.policies[%d]", field, i)
		if policy.Type != autoscalingv2.PodsScalingPolicy && policy.Type != autoscalingv2.PercentScalingPolicy {
			v.add(policyField+".type", "%q is not supported: use Pods or Percent", policy.Type)
		}
		if policy.Value <= 0 {
			v.add(policyField+".value", "is %d: set it to at least 1", policy.Value)
		}
		if policy.PeriodSeconds <= 0 || policy.PeriodSeconds > maxPolicyPeriodSeconds {
			v.add(policyField+".periodSeconds", "is %d: set it between 1 and %d", policy.PeriodSeconds, maxPolicyPeriodSeconds)
		}
	}
	if rules.Tolerance != nil && rules.Tolerance.Sign() < 0 {
		v.add(field+".tolerance", "is %s: set it to 0 or more", rules.Tolerance.String())
	}
}

func hasObjectOrExternalMetric(metrics []autoscalingv2.MetricSpec) bool {
	for _, metric := range metrics {
		if metric.Type == autoscalingv2.ObjectMetricSourceType || metric.Type == autoscalingv2.ExternalMetricSourceType {
			return true
		}
	}
	return false
}

func int32Ptr(value int32) *int32 { return &value }
