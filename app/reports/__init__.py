"""Fund reports over settlements, read from an incrementally maintained daily rollup."""
