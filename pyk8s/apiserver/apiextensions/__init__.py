"""Custom resources: serving the kinds CustomResourceDefinitions declare.

Mirrors ``staging/src/k8s.io/apiextensions-apiserver``: the structural schema
(validation, pruning, defaulting), the CRD status controllers (naming,
establishing, finalizer), the custom resource storage and its Table, scale and
OpenAPI views. CEL rules (``x-kubernetes-validations``) are not evaluated.
"""
