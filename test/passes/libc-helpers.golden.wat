(module
 (type $0 (func (param i32) (result i32)))
 (type $1 (func (result i32)))
 (type $2 (func (param i32)))
 (type $3 (func (param i32 i32) (result i32)))
 (import "env" "host_malloc" (func $fimport$0 (param i32) (result i32)))
 (import "env" "host_free" (func $fimport$1 (param i32)))
 (global $hostalloc$heap_base i32 (i32.const 1072))
 (global $hostalloc$abi i32 (i32.const 2))
 (global $hostalloc$align i32 (i32.const 16))
 (memory $mem 2)
 (data $0 (i32.const 1024) "\00\08\00\00")
 (data $1 (i32.const 1040) "hello\00")
 (data $2 (i32.const 1048) "A\00\00\00B\00\00\00\00\00\00\00")
 (export "malloc" (func $fimport$0))
 (export "free" (func $fimport$1))
 (export "run_strdup" (func $0))
 (export "run_strndup" (func $1))
 (export "run_wcsdup" (func $2))
 (export "memory" (memory $mem))
 (export "__heap_base" (global $hostalloc$heap_base))
 (export "__hostalloc_abi" (global $hostalloc$abi))
 (export "__hostalloc_align" (global $hostalloc$align))
 (export "__hostalloc_grow" (func $hostalloc$grow))
 (func $0 (result i32)
  (local $p i32)
  (local.set $p
   (call $strdup
    (i32.const 1040)
   )
  )
  (if (result i32)
   (i32.ne
    (i32.load8_u offset=5
     (local.get $p)
    )
    (i32.const 0)
   )
   (then
    (i32.const -1)
   )
   (else
    (i32.add
     (i32.shl
      (i32.load8_u
       (local.get $p)
      )
      (i32.const 8)
     )
     (i32.load8_u offset=4
      (local.get $p)
     )
    )
   )
  )
 )
 (func $1 (param $m i32) (result i32)
  (call $strndup
   (i32.const 1040)
   (local.get $m)
  )
 )
 (func $2 (result i32)
  (call $wcsdup
   (i32.const 1048)
  )
 )
 (func $strdup (param $0 i32) (result i32)
  (local $1 i32)
  (local $2 i32)
  (local $3 i32)
  (local.set $1
   (i32.const 0)
  )
  (block $block
   (loop $label
    (br_if $block
     (i32.eqz
      (i32.load8_u
       (i32.add
        (local.get $0)
        (local.get $1)
       )
      )
     )
    )
    (local.set $1
     (i32.add
      (local.get $1)
      (i32.const 1)
     )
    )
    (br $label)
   )
   (unreachable)
  )
  (local.set $1
   (i32.add
    (local.get $1)
    (i32.const 1)
   )
  )
  (local.set $2
   (call $fimport$0
    (local.get $1)
   )
  )
  (if
   (local.get $2)
   (then
    (block $block1
     (local.set $3
      (i32.const 0)
     )
     (loop $label1
      (br_if $block1
       (i32.ge_u
        (local.get $3)
        (local.get $1)
       )
      )
      (i32.store8
       (i32.add
        (local.get $2)
        (local.get $3)
       )
       (i32.load8_u
        (i32.add
         (local.get $0)
         (local.get $3)
        )
       )
      )
      (local.set $3
       (i32.add
        (local.get $3)
        (i32.const 1)
       )
      )
      (br $label1)
     )
     (unreachable)
    )
   )
  )
  (local.get $2)
 )
 (func $strndup (param $0 i32) (param $1 i32) (result i32)
  (local $2 i32)
  (local $3 i32)
  (local $4 i32)
  (local.set $2
   (i32.const 0)
  )
  (block $block
   (loop $label
    (br_if $block
     (i32.ge_u
      (local.get $2)
      (local.get $1)
     )
    )
    (br_if $block
     (i32.eqz
      (i32.load8_u
       (i32.add
        (local.get $0)
        (local.get $2)
       )
      )
     )
    )
    (local.set $2
     (i32.add
      (local.get $2)
      (i32.const 1)
     )
    )
    (br $label)
   )
   (unreachable)
  )
  (local.set $3
   (call $fimport$0
    (i32.add
     (local.get $2)
     (i32.const 1)
    )
   )
  )
  (if
   (local.get $3)
   (then
    (block $block1
     (local.set $4
      (i32.const 0)
     )
     (loop $label1
      (br_if $block1
       (i32.ge_u
        (local.get $4)
        (local.get $2)
       )
      )
      (i32.store8
       (i32.add
        (local.get $3)
        (local.get $4)
       )
       (i32.load8_u
        (i32.add
         (local.get $0)
         (local.get $4)
        )
       )
      )
      (local.set $4
       (i32.add
        (local.get $4)
        (i32.const 1)
       )
      )
      (br $label1)
     )
     (unreachable)
    )
    (i32.store8
     (i32.add
      (local.get $3)
      (local.get $2)
     )
     (i32.const 0)
    )
   )
  )
  (local.get $3)
 )
 (func $wcsdup (param $0 i32) (result i32)
  (local $1 i32)
  (local $2 i32)
  (local $3 i32)
  (local.set $1
   (i32.const 0)
  )
  (block $block
   (loop $label
    (br_if $block
     (i32.eqz
      (i32.load
       (i32.add
        (local.get $0)
        (i32.mul
         (local.get $1)
         (i32.const 4)
        )
       )
      )
     )
    )
    (local.set $1
     (i32.add
      (local.get $1)
      (i32.const 1)
     )
    )
    (br $label)
   )
   (unreachable)
  )
  (local.set $1
   (i32.mul
    (i32.add
     (local.get $1)
     (i32.const 1)
    )
    (i32.const 4)
   )
  )
  (local.set $2
   (call $fimport$0
    (local.get $1)
   )
  )
  (if
   (local.get $2)
   (then
    (block $block1
     (local.set $3
      (i32.const 0)
     )
     (loop $label1
      (br_if $block1
       (i32.ge_u
        (local.get $3)
        (local.get $1)
       )
      )
      (i32.store8
       (i32.add
        (local.get $2)
        (local.get $3)
       )
       (i32.load8_u
        (i32.add
         (local.get $0)
         (local.get $3)
        )
       )
      )
      (local.set $3
       (i32.add
        (local.get $3)
        (i32.const 1)
       )
      )
      (br $label1)
     )
     (unreachable)
    )
   )
  )
  (local.get $2)
 )
 (func $hostalloc$grow (param $0 i32) (result i32)
  (memory.grow
   (local.get $0)
  )
 )
 ;; custom section "hostalloc", size 84, contents: "{\"abi\":2,\"align\":16,\"heapBase\":\"estimated\",\"heapBaseValue\":1072,\"dataEnd\":\"unknown\"}"
)
