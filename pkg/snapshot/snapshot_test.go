package snapshot

import (
	"errors"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

func TestInputScaleAndPods(t *testing.T) {
	snapshot := New("test")
	snapshot.HPAs = []autoscalingv2.HorizontalPodAutoscaler{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "broken"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "blog", Name: "web"}},
	}
	snapshot.Scales[types.NamespacedName{Namespace: "shop", Name: "web"}] = ScaleResult{Scale: hpa.Scale{SpecReplicas: 3, Selector: "app=web"}}
	snapshot.Scales[types.NamespacedName{Namespace: "shop", Name: "broken"}] = ScaleResult{Err: errors.New("deployments.apps \"gone\" not found")}
	snapshot.Scales[types.NamespacedName{Namespace: "blog", Name: "web"}] = ScaleResult{Scale: hpa.Scale{SpecReplicas: 1, Selector: "app=blog"}}
	snapshot.Pods = []corev1.Pod{testPod("shop", "web-2", nil), testPod("blog", "web-1", nil), testPod("shop", "web-1", nil)}

	input := snapshot.Input(&snapshot.HPAs[0], memoryTestNow, hpa.DefaultSettings(), hpa.Memory{})
	if input.ScaleError != nil || input.Scale.SpecReplicas != 3 {
		t.Errorf("scale = %+v, error %v, want 3 replicas", input.Scale, input.ScaleError)
	}
	if len(input.Pods) != 2 || input.Pods[0].Name != "web-1" || input.Pods[1].Name != "web-2" {
		t.Errorf("pods = %v, want shop/web-1 and shop/web-2 in name order", input.Pods)
	}
	for key := range input.OtherHPASelectors {
		if key != "shop/web" {
			t.Errorf("HPA selectors contain %s, want only shop/web itself: the other HPA of shop has no scale", key)
		}
	}
	if !input.Now.Equal(memoryTestNow) {
		t.Errorf("now = %v, want %v", input.Now, memoryTestNow)
	}

	broken := snapshot.Input(&snapshot.HPAs[1], memoryTestNow, hpa.DefaultSettings(), hpa.Memory{})
	if broken.ScaleError == nil || !strings.Contains(broken.ScaleError.Error(), "gone") {
		t.Errorf("scale error = %v, want the recorded error", broken.ScaleError)
	}
	if _, found := broken.OtherHPASelectors["shop/web"]; !found {
		t.Errorf("other HPA selectors = %v, want shop/web", broken.OtherHPASelectors)
	}
}

func TestInputScaleNotRead(t *testing.T) {
	snapshot := New("test")
	hpaObj := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec:       autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}},
	}
	input := snapshot.Input(hpaObj, memoryTestNow, hpa.DefaultSettings(), hpa.Memory{})
	if input.ScaleError == nil {
		t.Error("scale error is nil for an HPA whose scale was never read")
	}
}
