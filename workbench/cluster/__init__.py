"""The cluster: sweeps dispatched to a Slurm scheduler (batch scripts, ``sbatch``/``squeue``/``scontrol`` wrappers,
fleet status, collect and resubmit). Each Slurm task runs one campaign cell (``workbench sweep-cell``); this layer
sits above the campaigns and never measures anything itself."""
