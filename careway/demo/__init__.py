"""`careway demo`: demo agencies with documented people and realistic patients, and a bulk loader
that builds a large agency for benchmarks. Clinical content and its sources live in content/."""
