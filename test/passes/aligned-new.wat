;; C++'s aligned operator new (mangled names, as clang keeps them) with the bump allocator inlined:
;; each bumps the break pointer at 1024 itself. They are rebuilt on host_aligned_alloc
;; (rebuild-aligned-new): the throwing form traps on failure, the nothrow form returns 0.
(module
  (memory $mem 2)
  (export "memory" (memory $mem))
  (data (i32.const 1024) "\00\08\00\00")
  (func $malloc (export "malloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (i32.load (i32.const 1024)))
    (i32.store (i32.const 1024)
      (i32.add (local.get $p) (i32.and (i32.add (local.get $n) (i32.const 15)) (i32.const -16))))
    (local.get $p))
  (func $free (export "free") (param $p i32))
  (func $_ZnwmSt11align_val_t (param $size i32) (param $align i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and
      (i32.add (i32.load (i32.const 1024)) (i32.sub (local.get $align) (i32.const 1)))
      (i32.sub (i32.const 0) (local.get $align))))
    (i32.store (i32.const 1024) (i32.add (local.get $p) (local.get $size)))
    (local.get $p))
  (func $_ZnamSt11align_val_tRKSt9nothrow_t (param $size i32) (param $align i32) (param $tag i32) (result i32)
    (call $_ZnwmSt11align_val_t (local.get $size) (local.get $align)))
  ;; new (align) char[size], throwing form
  (func (export "run_new") (param $size i32) (param $align i32) (result i32)
    (call $_ZnwmSt11align_val_t (local.get $size) (local.get $align)))
  ;; nothrow form
  (func (export "run_new_nothrow") (param $size i32) (param $align i32) (result i32)
    (call $_ZnamSt11align_val_tRKSt9nothrow_t (local.get $size) (local.get $align) (i32.const 0)))
)
