"""pytest plugin: testplans as test items, and ``target``/``console`` fixtures."""
