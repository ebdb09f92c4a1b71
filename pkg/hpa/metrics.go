package hpa

import (
	"errors"
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons for a metric that could not be computed (ScalingActive=False).
const (
	ReasonFailedGetResourceMetric          = "FailedGetResourceMetric"
	ReasonFailedGetContainerResourceMetric = "FailedGetContainerResourceMetric"
	ReasonFailedGetPodsMetric              = "FailedGetPodsMetric"
	ReasonFailedGetObjectMetric            = "FailedGetObjectMetric"
	ReasonFailedGetExternalMetric          = "FailedGetExternalMetric"
	ReasonInvalidMetricSourceType          = "InvalidMetricSourceType"
)

// ComputeMetric computes one metric's proposal as the controller's per-metric step does: it picks
// the calculation from the metric's source and target, names the metric as the controller's
// messages do, builds the status.currentMetrics entry, and wraps errors with the controller's
// texts. specReplicas and statusReplicas are scale.spec.replicas and scale.status.replicas.
func ComputeMetric(c *Calculator, spec autoscalingv2.MetricSpec, specReplicas, statusReplicas int32) MetricTrace {
	var tr MetricTrace
	switch spec.Type {
	case autoscalingv2.ResourceMetricSourceType:
		if spec.Resource == nil {
			tr = invalidSpec(ReasonFailedGetResourceMetric, "resource")
			break
		}
		tr = resourceMetric(c, spec.Resource.Name, "", spec.Resource.Target, specReplicas, autoscalingv2.ResourceMetricSourceType)
		if tr.Err != nil {
			tr.Reason = ReasonFailedGetResourceMetric
			tr.EventMessage = tr.Error
			tr.fail(fmt.Errorf("failed to get %s resource metric value: %w", spec.Resource.Name, tr.Err))
		} else {
			tr.Status = autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricStatus{Name: spec.Resource.Name, Current: resourceCurrent(tr, spec.Resource.Name)}}
		}
	case autoscalingv2.ContainerResourceMetricSourceType:
		if spec.ContainerResource == nil {
			tr = invalidSpec(ReasonFailedGetContainerResourceMetric, "containerResource")
			break
		}
		cr := spec.ContainerResource
		tr = resourceMetric(c, cr.Name, cr.Container, cr.Target, specReplicas, autoscalingv2.ContainerResourceMetricSourceType)
		if tr.Err != nil {
			tr.Reason = ReasonFailedGetContainerResourceMetric
			tr.EventMessage = tr.Error
			tr.fail(fmt.Errorf("failed to get %s container metric value: %w", cr.Container, tr.Err))
		} else {
			tr.Status = autoscalingv2.MetricStatus{Type: autoscalingv2.ContainerResourceMetricSourceType,
				ContainerResource: &autoscalingv2.ContainerResourceMetricStatus{Name: cr.Name, Container: cr.Container, Current: resourceCurrent(tr, cr.Name)}}
		}
	case autoscalingv2.PodsMetricSourceType:
		if spec.Pods == nil {
			tr = invalidSpec(ReasonFailedGetPodsMetric, "pods")
			break
		}
		tr = podsMetric(c, spec.Pods, specReplicas)
	case autoscalingv2.ObjectMetricSourceType:
		if spec.Object == nil {
			tr = invalidSpec(ReasonFailedGetObjectMetric, "object")
			break
		}
		tr = objectMetric(c, spec.Object, specReplicas, statusReplicas)
	case autoscalingv2.ExternalMetricSourceType:
		if spec.External == nil {
			tr = invalidSpec(ReasonFailedGetExternalMetric, "external")
			break
		}
		tr = externalMetric(c, spec.External, specReplicas, statusReplicas)
	default:
		// The API server rejects unknown types; the controller's error text ends with an empty
		// wrapped error, so the message is just the first part.
		tr.Reason = ReasonInvalidMetricSourceType
		tr.fail(fmt.Errorf("unknown metric source type %q", string(spec.Type)))
		tr.EventMessage = tr.Error
	}
	tr.Type = spec.Type
	return tr
}

// invalidSpec reports a metric whose type names a source field that is not set. The API server
// rejects such objects, but manifests read offline may contain them.
func invalidSpec(reason, field string) MetricTrace {
	var tr MetricTrace
	tr.Reason = reason
	tr.fail(fmt.Errorf("invalid metric: the %s field is not set for this metric type", field))
	tr.EventMessage = tr.Error
	return tr
}

func resourceMetric(c *Calculator, name corev1.ResourceName, container string, target autoscalingv2.MetricTarget, specReplicas int32, source autoscalingv2.MetricSourceType) MetricTrace {
	// averageValue is checked before averageUtilization; target.type is not consulted.
	if target.AverageValue != nil {
		tr := c.ResourceAverageValue(specReplicas, target.AverageValue.MilliValue(), name, container)
		if tr.Err != nil {
			tr.fail(fmt.Errorf("failed to get %s usage: %w", name, tr.Err))
			return tr
		}
		tr.Name = fmt.Sprintf("%s resource", name)
		return tr
	}
	if target.AverageUtilization == nil {
		var tr MetricTrace
		tr.fail(errors.New("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set"))
		return tr
	}
	tr := c.ResourceUtilization(specReplicas, *target.AverageUtilization, name, container)
	if tr.Err != nil {
		tr.fail(fmt.Errorf("failed to get %s utilization: %w", name, tr.Err))
		return tr
	}
	tr.Name = fmt.Sprintf("%s resource utilization (percentage of request)", name)
	if source == autoscalingv2.ContainerResourceMetricSourceType {
		tr.Name = fmt.Sprintf("%s container resource utilization (percentage of request)", name)
	}
	return tr
}

// statusQuantity formats a reported value as the controller does: BinarySI for memory (as
// metrics-server reports it), DecimalSI otherwise.
func statusQuantity(name corev1.ResourceName, milli int64) *resource.Quantity {
	format := resource.DecimalSI
	if name == corev1.ResourceMemory {
		format = resource.BinarySI
	}
	return resource.NewMilliQuantity(milli, format)
}

func resourceCurrent(tr MetricTrace, name corev1.ResourceName) autoscalingv2.MetricValueStatus {
	current := autoscalingv2.MetricValueStatus{AverageValue: statusQuantity(name, *tr.First.AverageMilli)}
	if tr.First.Utilization != nil {
		current.AverageUtilization = ptr(*tr.First.Utilization)
	}
	return current
}

func podsMetric(c *Calculator, source *autoscalingv2.PodsMetricSource, specReplicas int32) MetricTrace {
	metricSelector, err := metav1.LabelSelectorAsSelector(source.Metric.Selector)
	if err != nil {
		var tr MetricTrace
		tr.Reason = ReasonFailedGetPodsMetric
		tr.EventMessage = err.Error()
		tr.fail(fmt.Errorf("failed to get pods metric value: %w", err))
		return tr
	}
	if source.Target.AverageValue == nil {
		var tr MetricTrace
		tr.Reason = ReasonFailedGetPodsMetric
		tr.EventMessage = "invalid pods metric source: no average value target was set"
		tr.fail(errors.New("failed to get pods metric value: " + tr.EventMessage))
		return tr
	}
	tr := c.PodsAverageValue(specReplicas, source.Target.AverageValue.MilliValue(), source.Metric.Name, metricSelector)
	if tr.Err != nil {
		tr.Reason = ReasonFailedGetPodsMetric
		tr.EventMessage = tr.Error
		tr.fail(fmt.Errorf("failed to get pods metric value: %w", tr.Err))
		return tr
	}
	tr.Name = fmt.Sprintf("pods metric %s", source.Metric.Name)
	tr.Status = autoscalingv2.MetricStatus{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricStatus{
		Metric:  autoscalingv2.MetricIdentifier{Name: source.Metric.Name, Selector: source.Metric.Selector},
		Current: autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(*tr.First.AverageMilli, resource.DecimalSI)},
	}}
	return tr
}

func objectMetric(c *Calculator, source *autoscalingv2.ObjectMetricSource, specReplicas, statusReplicas int32) MetricTrace {
	// eventErr is the calculation's own error; err is what the per-metric step returns.
	fail := func(tr MetricTrace, eventErr, err error) MetricTrace {
		tr.Reason = ReasonFailedGetObjectMetric
		tr.EventMessage = eventErr.Error()
		tr.fail(fmt.Errorf("failed to get object metric value: %w", err))
		return tr
	}
	metricSelector, err := metav1.LabelSelectorAsSelector(source.Metric.Selector)
	if err != nil {
		return fail(MetricTrace{}, err, err)
	}
	identifier := autoscalingv2.MetricIdentifier{Name: source.Metric.Name, Selector: source.Metric.Selector}
	target := source.Target
	switch {
	case target.Type == autoscalingv2.ValueMetricType && target.Value != nil:
		tr := c.ObjectValue(specReplicas, target.Value.MilliValue(), source.Metric.Name, source.DescribedObject, metricSelector)
		if tr.Err != nil {
			return fail(tr, tr.Err, tr.Err)
		}
		tr.Name = fmt.Sprintf("%s metric %s", source.DescribedObject.Kind, source.Metric.Name)
		tr.Status = autoscalingv2.MetricStatus{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricStatus{
			DescribedObject: source.DescribedObject, Metric: identifier,
			Current: autoscalingv2.MetricValueStatus{Value: resource.NewMilliQuantity(*tr.First.ValueMilli, resource.DecimalSI)},
		}}
		return tr
	case target.Type == autoscalingv2.AverageValueMetricType && target.AverageValue != nil:
		tr := c.ObjectAverageValue(statusReplicas, target.AverageValue.MilliValue(), source.Metric.Name, source.DescribedObject, metricSelector)
		if tr.Err != nil {
			return fail(tr, tr.Err, fmt.Errorf("failed to get %s object metric: %w", source.Metric.Name, tr.Err))
		}
		// The controller names this metric "external metric" although it is an Object metric.
		tr.Name = fmt.Sprintf("external metric %s(%+v)", source.Metric.Name, source.Metric.Selector)
		tr.Status = autoscalingv2.MetricStatus{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricStatus{
			DescribedObject: source.DescribedObject, Metric: identifier,
			Current: autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(*tr.First.AverageMilli, resource.DecimalSI)},
		}}
		return tr
	}
	invalid := errors.New("invalid object metric source: neither a value target nor an average value target was set")
	return fail(MetricTrace{}, invalid, invalid)
}

func externalMetric(c *Calculator, source *autoscalingv2.ExternalMetricSource, specReplicas, statusReplicas int32) MetricTrace {
	name := source.Metric.Name
	identifier := autoscalingv2.MetricIdentifier{Name: name, Selector: source.Metric.Selector}
	displayName := fmt.Sprintf("external metric %s(%+v)", name, source.Metric.Selector)
	var tr MetricTrace
	switch {
	case source.Target.AverageValue != nil:
		tr = c.ExternalAverageValue(statusReplicas, source.Target.AverageValue.MilliValue(), name, source.Metric.Selector)
		if tr.Err != nil {
			tr.EventMessage = tr.Error
			tr.fail(fmt.Errorf("failed to get %s external metric: %w", name, tr.Err))
			break
		}
		tr.Status = autoscalingv2.MetricStatus{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{
			Metric: identifier, Current: autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(*tr.First.AverageMilli, resource.DecimalSI)}}}
	case source.Target.Value != nil:
		tr = c.ExternalValue(specReplicas, source.Target.Value.MilliValue(), name, source.Metric.Selector)
		if tr.Err != nil {
			tr.EventMessage = tr.Error
			tr.fail(fmt.Errorf("failed to get external metric %s: %w", name, tr.Err))
			break
		}
		tr.Status = autoscalingv2.MetricStatus{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{
			Metric: identifier, Current: autoscalingv2.MetricValueStatus{Value: resource.NewMilliQuantity(*tr.First.ValueMilli, resource.DecimalSI)}}}
	default:
		tr.fail(errors.New("invalid external metric source: neither a value target nor an average value target was set"))
		tr.EventMessage = tr.Error
	}
	if tr.Err != nil {
		tr.Reason = ReasonFailedGetExternalMetric
		tr.fail(fmt.Errorf("failed to get %s external metric value: %w", name, tr.Err))
		return tr
	}
	tr.Name = displayName
	return tr
}
