// Package report turns the engine's hpa.Decision into what explain-hpa prints: Build makes the
// documented -o json|yaml schema (Item, inside an Explanation), and WriteText writes the
// explanation a person reads first, before kubectl describe hpa.
//
// The package has no API client and no command-line flags. The caller passes in, through Context,
// what the engine cannot know: the scale target, the evaluation time, where the controller
// memory came from, and which APIs could not be read.
package report
