(module
 (type $0 (func (param i32) (result i32)))
 (type $1 (func (param i32 i32) (result i32)))
 (type $2 (func (param i32)))
 (import "env" "host_malloc" (func $fimport$0 (param i32) (result i32)))
 (import "env" "host_free" (func $fimport$1 (param i32)))
 (import "env" "host_calloc" (func $fimport$2 (param i32 i32) (result i32)))
 (import "env" "host_realloc" (func $fimport$3 (param i32 i32) (result i32)))
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
 (func $run (param $n i32) (result i32)
  (local $p i32)
  (local $q i32)
  (local.set $p
   (call $fimport$0
    (local.get $n)
   )
  )
  (i32.store
   (local.get $p)
   (i32.const 42)
  )
  (local.set $q
   (call $fimport$2
    (i32.const 4)
    (local.get $n)
   )
  )
  (local.set $p
   (call $fimport$3
    (local.get $p)
    (i32.mul
     (local.get $n)
     (i32.const 2)
    )
   )
  )
  (i32.store
   (local.get $q)
   (i32.add
    (i32.load
     (local.get $p)
    )
    (i32.load offset=4
     (local.get $q)
    )
   )
  )
  (call $fimport$1
   (local.get $p)
  )
  (i32.load
   (local.get $q)
  )
 )
 (func $hostalloc$grow (param $0 i32) (result i32)
  (memory.grow
   (local.get $0)
  )
 )
 ;; custom section "hostalloc", size 84, contents: "{\"abi\":2,\"align\":16,\"heapBase\":\"estimated\",\"heapBaseValue\":1040,\"dataEnd\":\"unknown\"}"
)
