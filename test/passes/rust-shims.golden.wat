(module
 (type $0 (func (param i32 i32) (result i32)))
 (type $1 (func (param i32) (result i32)))
 (type $2 (func (param i32)))
 (type $3 (func (param i32 i32 i32)))
 (type $4 (func (param i32 i32 i32 i32) (result i32)))
 (import "env" "host_malloc" (func $fimport$0 (param i32) (result i32)))
 (import "env" "host_aligned_alloc" (func $fimport$1 (param i32 i32) (result i32)))
 (import "env" "host_free" (func $fimport$2 (param i32)))
 (import "env" "host_calloc" (func $fimport$3 (param i32 i32) (result i32)))
 (import "env" "host_realloc" (func $fimport$4 (param i32 i32) (result i32)))
 (global $hostalloc$heap_base i32 (i32.const 1040))
 (global $hostalloc$abi i32 (i32.const 2))
 (global $hostalloc$align i32 (i32.const 16))
 (memory $mem 2)
 (data $0 (i32.const 1024) "\00\08\00\00\00\00\00\00")
 (export "run" (func $run))
 (export "memory" (memory $mem))
 (export "__heap_base" (global $hostalloc$heap_base))
 (export "__hostalloc_abi" (global $hostalloc$abi))
 (export "__hostalloc_align" (global $hostalloc$align))
 (export "__hostalloc_grow" (func $hostalloc$grow))
 (func $run (param $align i32) (result i32)
  (local $p i32)
  (local $q i32)
  (local.set $p
   (call $__rust_alloc
    (i32.const 24)
    (local.get $align)
   )
  )
  (i64.store
   (local.get $p)
   (i64.const 72623859790382856)
  )
  (local.set $p
   (call $__rust_realloc
    (local.get $p)
    (i32.const 24)
    (local.get $align)
    (i32.const 200)
   )
  )
  (local.set $q
   (call $__rust_alloc_zeroed
    (i32.const 64)
    (local.get $align)
   )
  )
  (i32.store
   (local.get $q)
   (i32.add
    (i32.load
     (local.get $p)
    )
    (i32.load offset=60
     (local.get $q)
    )
   )
  )
  (call $__rust_dealloc
   (local.get $p)
   (i32.const 200)
   (local.get $align)
  )
  (i32.or
   (i32.load
    (local.get $q)
   )
   (i32.and
    (local.get $q)
    (i32.sub
     (local.get $align)
     (i32.const 1)
    )
   )
  )
 )
 (func $__rust_alloc (param $0 i32) (param $1 i32) (result i32)
  (if (result i32)
   (i32.le_u
    (local.get $1)
    (i32.const 16)
   )
   (then
    (call $fimport$0
     (local.get $0)
    )
   )
   (else
    (call $fimport$1
     (local.get $1)
     (local.get $0)
    )
   )
  )
 )
 (func $__rust_dealloc (param $0 i32) (param $1 i32) (param $2 i32)
  (call $fimport$2
   (local.get $0)
  )
 )
 (func $__rust_alloc_zeroed (param $0 i32) (param $1 i32) (result i32)
  (local $2 i32)
  (if (result i32)
   (i32.le_u
    (local.get $1)
    (i32.const 16)
   )
   (then
    (call $fimport$3
     (i32.const 1)
     (local.get $0)
    )
   )
   (else
    (local.set $2
     (call $fimport$1
      (local.get $1)
      (local.get $0)
     )
    )
    (if
     (i32.ne
      (local.get $2)
      (i32.const 0)
     )
     (then
      (memory.fill
       (local.get $2)
       (i32.const 0)
       (local.get $0)
      )
     )
    )
    (local.get $2)
   )
  )
 )
 (func $__rust_realloc (param $0 i32) (param $1 i32) (param $2 i32) (param $3 i32) (result i32)
  (local $4 i32)
  (if (result i32)
   (i32.le_u
    (local.get $2)
    (i32.const 16)
   )
   (then
    (call $fimport$4
     (local.get $0)
     (local.get $3)
    )
   )
   (else
    (local.set $4
     (call $fimport$1
      (local.get $2)
      (local.get $3)
     )
    )
    (if
     (i32.ne
      (local.get $4)
      (i32.const 0)
     )
     (then
      (memory.copy
       (local.get $4)
       (local.get $0)
       (select
        (local.get $1)
        (local.get $3)
        (i32.lt_u
         (local.get $1)
         (local.get $3)
        )
       )
      )
      (call $fimport$2
       (local.get $0)
      )
     )
    )
    (local.get $4)
   )
  )
 )
 (func $hostalloc$grow (param $0 i32) (result i32)
  (memory.grow
   (local.get $0)
  )
 )
 ;; custom section "hostalloc", size 84, contents: "{\"abi\":2,\"align\":16,\"heapBase\":\"estimated\",\"heapBaseValue\":1040,\"dataEnd\":\"unknown\"}"
)
