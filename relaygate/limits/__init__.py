"""Rate limiters behind one interface: in-process now, Redis for several replicas."""
