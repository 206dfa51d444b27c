"""w1-w3 with Lampy and JAX alternating run by run in one process, so both see the same moments
of a shared host (a best-of-5 harness row runs each library in its own minute). JAX is
jit-compiled and warmed, its inputs on its device, float64 (jax_enable_x64).

    .venv/bin/python bench/bench_jax_interleaved.py [ROUNDS]
"""
import time, sys, numpy as np, lampy as lp
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
n = 64 << 20
rng = np.random.default_rng(1)
A = rng.random(n); B = rng.random(n); C = rng.random(n)
a, b, c = lp.asarray(A), lp.asarray(B), lp.asarray(C)
ja, jb, jc = (jax.device_put(t) for t in (A, B, C))
jw1 = jax.jit(lambda a, b, c: a*b + c*2 - a); jw2 = jax.jit(lambda a: jnp.sum(a)); jw3 = jax.jit(lambda a, b: jnp.sum((a-b)**2))
for f in (lambda: jw1(ja, jb, jc).block_until_ready(), lambda: jw2(ja).block_until_ready(), lambda: jw3(ja, jb).block_until_ready()): f(); f()
W = {"w1": (lambda: (a*b + c*2 - a).run(), lambda: jw1(ja, jb, jc).block_until_ready()),
     "w2": (lambda: lp.sum(a).run(), lambda: jw2(ja).block_until_ready()),
     "w3": (lambda: lp.sum((a-b)**2).run(), lambda: jw3(ja, jb).block_until_ready())}
reps = int(sys.argv[1]) if len(sys.argv) > 1 else 15
for name, (fl, fj) in W.items():
    tl, tj = [], []
    fl(); fj()
    for r in range(reps):
        for lst, f in ((tl, fl), (tj, fj)):
            t0 = time.perf_counter(); x = f(); lst.append(time.perf_counter() - t0); del x
    tl, tj = np.array(tl) * 1e3, np.array(tj) * 1e3
    print(f"{name}: lampy best {tl.min():.1f} med {np.median(tl):.1f} ({np.median(tl)/tl.min():.2f}x)   jax best {tj.min():.1f} med {np.median(tj):.1f} ({np.median(tj)/tj.min():.2f}x)   jax/lampy best {tj.min()/tl.min():.2f}")
