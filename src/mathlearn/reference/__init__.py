"""Pure-Python reference implementations.

Deliberately plain: loops over scalars and the formulas as the books write
them, so that a reader can check each line by eye. The fast kernels of
mathlearn are tested against these on the same inputs. They are slow by
design and meant for small problems.
"""
