// Package hpa is a pure model of one reconcile of the HorizontalPodAutoscaler controller of
// kube-controller-manager v1.37 (pkg/controller/podautoscaler in k8s.io/kubernetes v1.37.2).
//
// Reconcile takes everything the controller reads in one pass (the HPA, its scale target's scale
// subresource, the pods, the metrics, the controller's in-memory history and its settings) and
// returns the decision together with a trace of every step. The package has no API client, no
// clock and no output: explain-hpa, simulate and the tests all call the same functions.
//
// All metric values and targets are int64 milli-units, as the controller uses them
// (resource.Quantity.MilliValue, which rounds up to the next milli-unit). Memory is in milli-bytes.
package hpa
