"""Writes tests/data/shd_small.h5: three samples in the layout of the Spiking Heidelberg Digits
files (h5py; `spikes/times` as variable-length float16 seconds, `spikes/units` as
variable-length uint16, `labels` uint8), read by tests/events_hdf5.rs.

    python tools/make_event_fixtures.py    # needs h5py and numpy
"""

import h5py
import numpy as np

SAMPLES = [
    # (times in seconds, units, label)
    ([0.0, 0.004, 0.0125, 0.0125, 0.031], [0, 699, 3, 3, 350], 7),
    ([0.0199, 0.02], [10, 11], 19),
    ([], [], 0),
]

with h5py.File("tests/data/shd_small.h5", "w") as f:
    times = f.create_dataset("spikes/times", (len(SAMPLES),), dtype=h5py.vlen_dtype(np.float16))
    units = f.create_dataset("spikes/units", (len(SAMPLES),), dtype=h5py.vlen_dtype(np.uint16))
    for i, (t, u, _) in enumerate(SAMPLES):
        times[i] = np.array(t, dtype=np.float16)
        units[i] = np.array(u, dtype=np.uint16)
    f.create_dataset("labels", data=np.array([s[2] for s in SAMPLES], dtype=np.uint8))
    f.create_dataset("extra/keys", data=np.array([b"0", b"1"]))
