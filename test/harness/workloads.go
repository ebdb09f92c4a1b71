package harness

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// pollInterval is how often the Wait* helpers read the API server.
const pollInterval = 250 * time.Millisecond

// DeploymentBuilder builds a Deployment for the test cluster. Its pods never run, because the
// cluster has no kubelets, so the image only has to be a valid name.
type DeploymentBuilder struct {
	deployment *appsv1.Deployment
}

// NewDeployment returns a builder for a Deployment with one replica whose pods carry the label
// app=NAME and have one container "app" with image "pause:3.10".
func NewDeployment(namespace, name string) *DeploymentBuilder {
	labels := map[string]string{"app": name}
	replicas := int32(1)
	return &DeploymentBuilder{deployment: &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: copyLabels(labels)},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: copyLabels(labels)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: copyLabels(labels)},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "app", Image: "pause:3.10"}},
				},
			},
		},
	}}
}

// Replicas sets spec.replicas.
func (b *DeploymentBuilder) Replicas(replicas int32) *DeploymentBuilder {
	b.deployment.Spec.Replicas = &replicas
	return b
}

// PodLabel adds a label to the pod template. The selector keeps only app=NAME.
func (b *DeploymentBuilder) PodLabel(key, value string) *DeploymentBuilder {
	b.deployment.Spec.Template.Labels[key] = value
	return b
}

// Requests sets the resource requests of the first container, for example
// corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}.
func (b *DeploymentBuilder) Requests(requests corev1.ResourceList) *DeploymentBuilder {
	b.deployment.Spec.Template.Spec.Containers[0].Resources.Requests = requests.DeepCopy()
	return b
}

// CPURequest sets the CPU request of the first container, for example "100m".
func (b *DeploymentBuilder) CPURequest(quantity string) *DeploymentBuilder {
	container := &b.deployment.Spec.Template.Spec.Containers[0]
	if container.Resources.Requests == nil {
		container.Resources.Requests = corev1.ResourceList{}
	}
	container.Resources.Requests[corev1.ResourceCPU] = resource.MustParse(quantity)
	return b
}

// Container adds a container with the given resource requests.
func (b *DeploymentBuilder) Container(name string, requests corev1.ResourceList) *DeploymentBuilder {
	spec := &b.deployment.Spec.Template.Spec
	spec.Containers = append(spec.Containers, corev1.Container{
		Name:      name,
		Image:     spec.Containers[0].Image,
		Resources: corev1.ResourceRequirements{Requests: requests.DeepCopy()},
	})
	return b
}

// Build returns a copy of the Deployment, which the caller may change further.
func (b *DeploymentBuilder) Build() *appsv1.Deployment {
	return b.deployment.DeepCopy()
}

// CreateNamespace creates a namespace and waits until its default ServiceAccount exists,
// because the API server rejects pods in a namespace that has none.
func (c *Cluster) CreateNamespace(t testing.TB, name string) *corev1.Namespace {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.options.WaitTimeout)
	defer cancel()
	namespace, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	c.WaitForServiceAccount(t, name, "default")
	return namespace
}

// WaitForServiceAccount waits until a ServiceAccount exists. The serviceaccount controller
// creates "default" in every namespace.
func (c *Cluster) WaitForServiceAccount(t testing.TB, namespace, name string) {
	t.Helper()
	c.poll(t, fmt.Sprintf("ServiceAccount %s/%s to exist", namespace, name), func(ctx context.Context) (bool, string, error) {
		_, err := c.Client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, "not found", nil
		}
		return err == nil, "", err
	})
}

// CreateDeployment creates the Deployment and fails the test on error.
func (c *Cluster) CreateDeployment(t testing.TB, deployment *appsv1.Deployment) *appsv1.Deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.options.WaitTimeout)
	defer cancel()
	created, err := c.Client.AppsV1().Deployments(deployment.Namespace).Create(ctx, deployment, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create Deployment %s/%s: %v", deployment.Namespace, deployment.Name, err)
	}
	return created
}

// WaitForPods waits until exactly count pods that are not being deleted match the label
// selector, and returns them sorted by name.
func (c *Cluster) WaitForPods(t testing.TB, namespace, selector string, count int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	c.poll(t, fmt.Sprintf("%d pods matching %q in namespace %s", count, selector, namespace), func(ctx context.Context) (bool, string, error) {
		var err error
		if pods, err = c.livePods(ctx, namespace, selector); err != nil {
			return false, "", err
		}
		return len(pods) == count, fmt.Sprintf("%d pods match", len(pods)), nil
	})
	return pods
}

// livePods lists the pods that match selector and are not being deleted, sorted by name.
func (c *Cluster) livePods(ctx context.Context, namespace, selector string) ([]corev1.Pod, error) {
	list, err := c.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	pods := make([]corev1.Pod, 0, len(list.Items))
	for _, pod := range list.Items {
		if pod.DeletionTimestamp == nil {
			pods = append(pods, pod)
		}
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods, nil
}

// MarkPodsRunningReady sets every pod that matches selector and is not being deleted to phase
// Running, with status.startTime startTime and every container ready, and the PodReady
// condition True since readyTransitionTime. It writes the status subresource, as a kubelet
// would, and returns the updated pods sorted by name.
//
// The HPA controller trusts a pod's CPU sample if the pod started more than the CPU
// initialization period (5 minutes by default) ago. A younger pod's sample counts only if the
// pod turned ready before the sample's window began. Tests therefore usually pass past times.
func (c *Cluster) MarkPodsRunningReady(t testing.TB, namespace, selector string, startTime, readyTransitionTime time.Time) []corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.options.WaitTimeout)
	defer cancel()
	pods, err := c.livePods(ctx, namespace, selector)
	if err != nil {
		t.Fatalf("list pods matching %q in namespace %s: %v", selector, namespace, err)
	}

	updated := make([]corev1.Pod, 0, len(pods))
	for _, pod := range pods {
		var result *corev1.Pod
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			current, err := c.Client.CoreV1().Pods(namespace).Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			setRunningReady(current, startTime, readyTransitionTime)
			result, err = c.Client.CoreV1().Pods(namespace).UpdateStatus(ctx, current, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatalf("mark pod %s/%s Running and Ready: %v", namespace, pod.Name, err)
		}
		updated = append(updated, *result)
	}
	return updated
}

func setRunningReady(pod *corev1.Pod, startTime, readyTransitionTime time.Time) {
	start := metav1.NewTime(startTime)
	ready := metav1.NewTime(readyTransitionTime)

	pod.Status.Phase = corev1.PodRunning
	pod.Status.StartTime = &start
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: start},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: start},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: ready},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ready},
	}
	pod.Status.ContainerStatuses = make([]corev1.ContainerStatus, 0, len(pod.Spec.Containers))
	for _, container := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name:    container.Name,
			Image:   container.Image,
			ImageID: container.Image,
			Ready:   true,
			Started: ptrTo(true),
			State:   corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}},
		})
	}
}

func ptrTo[T any](value T) *T {
	return &value
}

// Events returns the events in a namespace, oldest first.
func (c *Cluster) Events(t testing.TB, namespace string) []corev1.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.options.WaitTimeout)
	defer cancel()
	list, err := c.Client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list events in namespace %s: %v", namespace, err)
	}
	events := list.Items
	sort.SliceStable(events, func(i, j int) bool { return eventTime(events[i]).Before(eventTime(events[j])) })
	return events
}

// eventTime returns when an event last happened. Events written through events.k8s.io/v1 have
// only eventTime, and those written through core/v1 have lastTimestamp.
func eventTime(event corev1.Event) time.Time {
	switch {
	case !event.LastTimestamp.IsZero():
		return event.LastTimestamp.Time
	case !event.EventTime.IsZero():
		return event.EventTime.Time
	}
	return event.CreationTimestamp.Time
}

// poll calls check every pollInterval until it returns true or WaitTimeout passes, and fails the
// test with the description and check's last detail on timeout. An error from check is
// retried, because the API server can briefly reject requests while it starts.
func (c *Cluster) poll(t testing.TB, description string, check func(ctx context.Context) (bool, string, error)) {
	t.Helper()
	deadline := time.Now().Add(c.options.WaitTimeout)
	var detail string
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), apiServerCallTimeout)
		done, last, err := check(ctx)
		cancel()
		if done {
			return
		}
		detail = last
		if err != nil {
			detail = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s (%d attempts) waiting for %s: last seen: %s", c.options.WaitTimeout, attempt, description, detail)
		}
		time.Sleep(pollInterval)
	}
}
