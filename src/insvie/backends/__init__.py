"""Adapters to models and services, and the CPU analysis primitives the data-engine stages call."""
