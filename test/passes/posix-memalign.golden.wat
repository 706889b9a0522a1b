(module
 (type $0 (func (param i32) (result i32)))
 (type $1 (func (param i32 i32) (result i32)))
 (type $2 (func (param i32)))
 (type $3 (func (param i32 i32 i32) (result i32)))
 (import "env" "host_malloc" (func $fimport$0 (param i32) (result i32)))
 (import "env" "host_aligned_alloc" (func $fimport$1 (param i32 i32) (result i32)))
 (import "env" "host_free" (func $fimport$2 (param i32)))
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
  (local $err i32)
  (local.set $p
   (call $fimport$0
    (i32.const 4)
   )
  )
  (local.set $err
   (call $posix_memalign
    (local.get $p)
    (local.get $align)
    (i32.const 100)
   )
  )
  (if
   (local.get $err)
   (then
    (return
     (i32.sub
      (i32.const 0)
      (local.get $err)
     )
    )
   )
  )
  (i32.load
   (local.get $p)
  )
 )
 (func $posix_memalign (param $0 i32) (param $1 i32) (param $2 i32) (result i32)
  (local $3 i32)
  (if
   (i32.ne
    (i32.const 0)
    (select
     (i32.const 1)
     (i32.ne
      (i32.and
       (local.get $1)
       (i32.sub
        (local.get $1)
        (i32.const 1)
       )
      )
      (i32.const 0)
     )
     (i32.lt_u
      (local.get $1)
      (i32.const 4)
     )
    )
   )
   (then
    (return
     (i32.const 28)
    )
   )
  )
  (local.set $3
   (call $fimport$1
    (local.get $1)
    (local.get $2)
   )
  )
  (if
   (i32.eqz
    (local.get $3)
   )
   (then
    (return
     (i32.const 48)
    )
   )
  )
  (i32.store
   (local.get $0)
   (local.get $3)
  )
  (i32.const 0)
 )
 (func $hostalloc$grow (param $0 i32) (result i32)
  (memory.grow
   (local.get $0)
  )
 )
 ;; custom section "hostalloc", size 84, contents: "{\"abi\":2,\"align\":16,\"heapBase\":\"estimated\",\"heapBaseValue\":1040,\"dataEnd\":\"unknown\"}"
)
