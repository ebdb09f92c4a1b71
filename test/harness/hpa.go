package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// CreateHPA creates an autoscaling/v2 HorizontalPodAutoscaler and fails the test on error.
func (c *Cluster) CreateHPA(t testing.TB, hpa *autoscalingv2.HorizontalPodAutoscaler) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.options.WaitTimeout)
	defer cancel()
	created, err := c.Client.AutoscalingV2().HorizontalPodAutoscalers(hpa.Namespace).Create(ctx, hpa, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create HorizontalPodAutoscaler %s/%s: %v", hpa.Namespace, hpa.Name, err)
	}
	return created
}

// WaitForHPAStatus watches the HPA until done returns true and returns the HPA it accepted. It
// receives every version of the HPA that the API server stores, so a status that the controller
// overwrites one sync period later is not missed. On timeout it fails the test and shows
// description and the HPA's last status.
func (c *Cluster) WaitForHPAStatus(t testing.TB, namespace, name, description string, done func(*autoscalingv2.HorizontalPodAutoscaler) bool) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.options.WaitTimeout)
	defer cancel()

	hpas := c.Client.AutoscalingV2().HorizontalPodAutoscalers(namespace)
	byName := fields.OneTermEqualSelector("metadata.name", name).String()
	listWatch := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, options metav1.ListOptions) (runtime.Object, error) {
			options.FieldSelector = byName
			return hpas.List(ctx, options)
		},
		WatchFuncWithContext: func(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
			options.FieldSelector = byName
			return hpas.Watch(ctx, options)
		},
	}

	lastSeen := "the HPA does not exist"
	var accepted *autoscalingv2.HorizontalPodAutoscaler
	_, err := watchtools.UntilWithSync(ctx, listWatch, &autoscalingv2.HorizontalPodAutoscaler{}, nil, func(event watch.Event) (bool, error) {
		hpa, ok := event.Object.(*autoscalingv2.HorizontalPodAutoscaler)
		if !ok {
			return false, nil
		}
		if event.Type == watch.Deleted {
			lastSeen = "the HPA was deleted"
			return false, nil
		}
		if done(hpa) {
			accepted = hpa
			return true, nil
		}
		status, _ := json.Marshal(hpa.Status)
		lastSeen = "status " + string(status)
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for HPA %s/%s: %s: %v (timeout %s); last seen: %s", namespace, name, description, err, c.options.WaitTimeout, lastSeen)
	}
	return accepted
}

// WaitForHPACondition waits until the HPA has a condition of the given type with the given
// status and, unless reason is empty, the given reason.
func (c *Cluster) WaitForHPACondition(t testing.TB, namespace, name string, conditionType autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason string) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	description := fmt.Sprintf("condition %s=%s", conditionType, status)
	if reason != "" {
		description += " with reason " + reason
	}
	return c.WaitForHPAStatus(t, namespace, name, description, func(hpa *autoscalingv2.HorizontalPodAutoscaler) bool {
		condition := FindHPACondition(hpa, conditionType)
		return condition != nil && condition.Status == status && (reason == "" || condition.Reason == reason)
	})
}

// FindHPACondition returns the HPA's condition of the given type, or nil if it has none.
func FindHPACondition(hpa *autoscalingv2.HorizontalPodAutoscaler, conditionType autoscalingv2.HorizontalPodAutoscalerConditionType) *autoscalingv2.HorizontalPodAutoscalerCondition {
	for i := range hpa.Status.Conditions {
		if hpa.Status.Conditions[i].Type == conditionType {
			return &hpa.Status.Conditions[i]
		}
	}
	return nil
}
