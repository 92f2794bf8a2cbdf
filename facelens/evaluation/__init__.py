"""Evaluation: error rates of facelens's own pipeline on public benchmarks (LFW)."""
