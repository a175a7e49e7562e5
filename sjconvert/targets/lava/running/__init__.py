"""Running Lava: the batched run inside the Lava environment (:mod:`.in_lava`, the only
module that imports Lava), its launcher and the comparison with our simulator
(:mod:`.launcher`), and the unrolled twin Lava simulates faster (:mod:`.twin`)."""
