"""The machine: CPU lists and affinity, system information, noise sampling and the doctor's checks."""
