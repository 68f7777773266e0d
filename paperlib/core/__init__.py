"""The method as tensors and arrays: the network, transforms, metrics, samplers, lambda schedules, colour
similarity and the method registry. Nothing here sees a Config, a file or a process."""
