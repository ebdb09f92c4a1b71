package harness

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestParseCustomMetricPath(t *testing.T) {
	cases := []struct {
		path     []string
		expected customMetricRequest
		ok       bool
	}{
		{
			path:     []string{"namespaces", "demo", "pods", "*", "requests"},
			expected: customMetricRequest{namespace: "demo", resource: schema.GroupResource{Resource: "pods"}, name: "*", metric: "requests"},
			ok:       true,
		},
		{
			path:     []string{"namespaces", "demo", "ingresses.networking.k8s.io", "front", "hits"},
			expected: customMetricRequest{namespace: "demo", resource: schema.GroupResource{Group: "networking.k8s.io", Resource: "ingresses"}, name: "front", metric: "hits"},
			ok:       true,
		},
		{
			path:     []string{"namespaces", "demo", "metrics", "queue_length"},
			expected: customMetricRequest{resource: schema.GroupResource{Resource: "namespaces"}, name: "demo", metric: "queue_length"},
			ok:       true,
		},
		{
			path:     []string{"nodes", "node-1", "load"},
			expected: customMetricRequest{resource: schema.GroupResource{Resource: "nodes"}, name: "node-1", metric: "load"},
			ok:       true,
		},
		{path: []string{"namespaces", "demo"}, ok: false},
		{path: []string{"namespaces", "demo", "pods", "a", "b", "c"}, ok: false},
	}
	for _, c := range cases {
		got, ok := parseCustomMetricPath(c.path)
		if ok != c.ok {
			t.Errorf("parseCustomMetricPath(%q) ok = %t, expected %t", c.path, ok, c.ok)
			continue
		}
		if got != c.expected {
			t.Errorf("parseCustomMetricPath(%q) = %+v, expected %+v", c.path, got, c.expected)
		}
	}
}

func TestGroupMatchesWithoutGroup(t *testing.T) {
	ingresses := schema.GroupResource{Group: "networking.k8s.io", Resource: "ingresses"}
	if !groupMatches(ingresses, schema.GroupResource{Resource: "ingresses"}) {
		t.Error("a request for ingresses without a group does not match networking.k8s.io ingresses")
	}
	if !groupMatches(ingresses, ingresses) {
		t.Error("a request for ingresses.networking.k8s.io does not match itself")
	}
	if groupMatches(ingresses, schema.GroupResource{Group: "extensions", Resource: "ingresses"}) {
		t.Error("a request for ingresses.extensions matches networking.k8s.io ingresses")
	}
	if groupMatches(ingresses, schema.GroupResource{Resource: "services"}) {
		t.Error("a request for services matches ingresses")
	}
}
