package hpa

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
)

// PodRequests returns the request of resource in milli-units for every pod, keyed by pod name,
// as the controller computes it for utilization targets. Every listed pod needs a request,
// including pods that are unready, missing a sample, failed or being deleted.
//
// With PodLevelResources on, a pod with pod-level requests and a whole-pod metric (container "")
// uses its effective pod request (pod-level values, else container aggregates, plus overhead).
// Otherwise the regular containers plus sidecars (init containers with restartPolicy Always) are
// summed, or only the named container is used.
func PodRequests(pods []*corev1.Pod, container string, resource corev1.ResourceName, podLevelResources bool) (map[string]int64, error) {
	requests := make(map[string]int64, len(pods))
	for _, pod := range pods {
		var request int64
		var err error
		if podLevelResources && container == "" && resourcehelper.IsPodLevelRequestsSet(pod) {
			request, err = podLevelRequest(pod, resource)
		} else {
			request, err = containerRequests(pod, container, resource)
		}
		if err != nil {
			return nil, err
		}
		requests[pod.Name] = request
	}
	return requests, nil
}

func podLevelRequest(pod *corev1.Pod, resource corev1.ResourceName) (int64, error) {
	effective := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	quantity, ok := effective[resource]
	if !ok {
		return 0, fmt.Errorf("missing pod-level request for %s in Pod %s", resource, pod.Name)
	}
	return quantity.MilliValue(), nil
}

func containerRequests(pod *corev1.Pod, container string, resource corev1.ResourceName) (int64, error) {
	containers := append([]corev1.Container{}, pod.Spec.Containers...)
	for _, init := range pod.Spec.InitContainers {
		if init.RestartPolicy != nil && *init.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(containers, init)
		}
	}

	var total int64
	for _, c := range containers {
		if container != "" && c.Name != container {
			continue
		}
		quantity, ok := c.Resources.Requests[resource]
		if !ok {
			return 0, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, c.Name, pod.Name)
		}
		total += quantity.MilliValue()
		if container != "" {
			return total, nil
		}
	}
	if container != "" {
		return 0, fmt.Errorf("container %s not found in Pod %s", container, pod.Name)
	}
	return total, nil
}
