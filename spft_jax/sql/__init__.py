"""Pure-Python SQL side: Spider-format data, schemas, sandboxed execution, execution match,
hardness and evaluation reports. Imports nothing from the JAX side of the project."""
