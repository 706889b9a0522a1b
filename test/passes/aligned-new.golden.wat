(module
 (type $0 (func (param i32 i32) (result i32)))
 (type $1 (func (param i32) (result i32)))
 (type $2 (func (param i32)))
 (type $3 (func (param i32 i32 i32) (result i32)))
 (import "env" "host_aligned_alloc" (func $fimport$0 (param i32 i32) (result i32)))
 (import "env" "host_malloc" (func $fimport$1 (param i32) (result i32)))
 (import "env" "host_free" (func $fimport$2 (param i32)))
 (global $hostalloc$heap_base i32 (i32.const 1040))
 (global $hostalloc$abi i32 (i32.const 2))
 (global $hostalloc$align i32 (i32.const 16))
 (memory $mem 2)
 (data $0 (i32.const 1024) "\00\08\00\00")
 (export "malloc" (func $fimport$1))
 (export "free" (func $fimport$2))
 (export "run_new" (func $0))
 (export "run_new_nothrow" (func $1))
 (export "memory" (memory $mem))
 (export "__heap_base" (global $hostalloc$heap_base))
 (export "__hostalloc_abi" (global $hostalloc$abi))
 (export "__hostalloc_align" (global $hostalloc$align))
 (export "__hostalloc_grow" (func $hostalloc$grow))
 (func $0 (param $size i32) (param $align i32) (result i32)
  (call $_ZnwmSt11align_val_t
   (local.get $size)
   (local.get $align)
  )
 )
 (func $1 (param $size i32) (param $align i32) (result i32)
  (call $_ZnamSt11align_val_tRKSt9nothrow_t
   (local.get $size)
   (local.get $align)
   (i32.const 0)
  )
 )
 (func $_ZnwmSt11align_val_t (param $0 i32) (param $1 i32) (result i32)
  (local $2 i32)
  (local.set $2
   (call $fimport$0
    (select
     (i32.const 4)
     (local.get $1)
     (i32.lt_u
      (local.get $1)
      (i32.const 4)
     )
    )
    (select
     (i32.const 1)
     (local.get $0)
     (i32.eqz
      (local.get $0)
     )
    )
   )
  )
  (if
   (i32.eqz
    (local.get $2)
   )
   (then
    (unreachable)
   )
  )
  (local.get $2)
 )
 (func $_ZnamSt11align_val_tRKSt9nothrow_t (param $0 i32) (param $1 i32) (param $2 i32) (result i32)
  (local $3 i32)
  (local.set $3
   (call $fimport$0
    (select
     (i32.const 4)
     (local.get $1)
     (i32.lt_u
      (local.get $1)
      (i32.const 4)
     )
    )
    (select
     (i32.const 1)
     (local.get $0)
     (i32.eqz
      (local.get $0)
     )
    )
   )
  )
  (local.get $3)
 )
 (func $hostalloc$grow (param $0 i32) (result i32)
  (memory.grow
   (local.get $0)
  )
 )
 ;; custom section "hostalloc", size 84, contents: "{\"abi\":2,\"align\":16,\"heapBase\":\"estimated\",\"heapBaseValue\":1040,\"dataEnd\":\"unknown\"}"
)
