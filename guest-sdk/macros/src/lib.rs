//! Procedural macros for the Reprise guest SDK.
//!
//! Use them through `reprise-sdk` (`#[reprise_sdk::function]`), which re-exports them;
//! the generated code refers to `::reprise_sdk`.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, ReturnType, Type, parse_macro_input};

/// Turns a free function `fn NAME(input: T) -> R` into a Reprise function named `NAME`.
///
/// The function itself is left unchanged. Next to it the macro generates a hidden struct
/// `NAME` (type namespace only, so it does not clash with the function) implementing
/// `reprise_sdk::Function`, which decodes the JSON input into `T`, calls the function
/// and encodes its output as JSON. `R` may be `Result<U, E>` (`U: Serialize`,
/// `E: Display`; an `Err` becomes the invocation's error message, and a
/// `reprise_sdk::Error::retryable` one makes the host run the function again), a plain
/// `U: Serialize`, or nothing. A function without an argument ignores its input.
///
/// Export the functions of a component with `reprise_sdk::export!(NAME, ...)`.
#[proc_macro_attribute]
pub fn function(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        let attr = TokenStream2::from(attr);
        return syn::Error::new_spanned(
            attr,
            "`#[reprise_sdk::function]` takes no arguments; the function's name is its Reprise name",
        )
        .to_compile_error()
        .into();
    }
    let func = parse_macro_input!(item as ItemFn);
    match expand(&func) {
        Ok(generated) => quote! { #func #generated }.into(),
        Err(err) => {
            let err = err.to_compile_error();
            // Keep the function so that errors elsewhere do not cascade.
            quote! { #func #err }.into()
        }
    }
}

fn expand(func: &ItemFn) -> syn::Result<TokenStream2> {
    let sig = &func.sig;
    let fn_ident = &sig.ident;
    let name = LitStr::new(&fn_ident.unraw().to_string(), fn_ident.span());
    let vis = &func.vis;

    if let Some(token) = &sig.asyncness {
        return Err(syn::Error::new_spanned(
            token,
            "`#[reprise_sdk::function]` does not support `async fn`; write a plain `fn` (host calls block)",
        ));
    }
    if let Some(token) = &sig.unsafety {
        return Err(syn::Error::new_spanned(
            token,
            "`#[reprise_sdk::function]` does not support `unsafe fn`",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new_spanned(
            abi,
            "`#[reprise_sdk::function]` does not support `extern` functions",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "`#[reprise_sdk::function]` does not support generic parameters; use concrete types",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            variadic,
            "`#[reprise_sdk::function]` does not support variadic functions",
        ));
    }

    let mut input_ty: Option<&Type> = None;
    for (index, arg) in sig.inputs.iter().enumerate() {
        match arg {
            FnArg::Receiver(receiver) => {
                return Err(syn::Error::new_spanned(
                    receiver,
                    "`#[reprise_sdk::function]` only supports free functions, not methods",
                ));
            }
            FnArg::Typed(pat_type) => {
                if index > 0 {
                    return Err(syn::Error::new_spanned(
                        pat_type,
                        "a Reprise function takes at most one argument (its JSON input); \
                         bundle several values into one `#[derive(Deserialize)]` struct",
                    ));
                }
                match &*pat_type.ty {
                    Type::Reference(reference) => {
                        return Err(syn::Error::new_spanned(
                            reference,
                            "the input of a Reprise function must be an owned type \
                             (`T: DeserializeOwned`), not a reference",
                        ));
                    }
                    Type::ImplTrait(impl_trait) => {
                        return Err(syn::Error::new_spanned(
                            impl_trait,
                            "`#[reprise_sdk::function]` does not support `impl Trait` arguments; \
                             use a concrete type",
                        ));
                    }
                    ty => input_ty = Some(ty),
                }
            }
        }
    }

    // Names used inside the generated code; prefixed so they cannot shadow the user's
    // function (which may be called `input`, `output`, ...).
    let input = format_ident!("__reprise_input");
    let output = format_ident!("__reprise_output");
    let value = format_ident!("__reprise_value");
    let error = format_ident!("__reprise_error");

    let call = match input_ty {
        Some(ty) => {
            let decode = quote_spanned! {ty.span()=>
                ::reprise_sdk::__private::decode_input::<#ty>(#name, #input)?
            };
            quote! { #fn_ident(#decode) }
        }
        None => quote! { { let _ = #input; #fn_ident() } },
    };

    let output_ty = output_type(&sig.output);
    // The `Serialize` bound names a lifetime parameter so that it is checked where
    // `dispatch` is called, not here: inputs need not be `Serialize` unless dispatched.
    let (dispatch_generics, dispatch_params, dispatch_bound, dispatch_input) = match input_ty {
        Some(ty) => (
            quote! { <'__reprise_a> },
            quote! { input: &'__reprise_a #ty },
            quote! { where &'__reprise_a #ty: ::reprise_sdk::__private::serde::Serialize },
            quote! { &input },
        ),
        None => (quote! {}, quote! {}, quote! {}, quote! { &() }),
    };
    let dispatch_doc = format!(
        "Starts a child invocation of `{}` (journaled; see `reprise_sdk::children`).",
        name.value()
    );
    let detached_doc = format!(
        "Starts a child invocation of `{}` that is not cancelled with its parent.",
        name.value()
    );

    let body = if returns_result(&sig.output) {
        quote! {
            match #call {
                ::core::result::Result::Ok(#value) => {
                    ::reprise_sdk::__private::encode_output(#name, &#value)
                }
                ::core::result::Result::Err(#error) => {
                    #[allow(unused_imports)]
                    use ::reprise_sdk::__private::{DisplayError as _, SdkError as _};
                    ::core::result::Result::Err(
                        (&::reprise_sdk::__private::Wrap(&#error)).to_sdk_error(),
                    )
                }
            }
        }
    } else {
        quote! {
            let #output = #call;
            ::reprise_sdk::__private::encode_output(#name, &#output)
        }
    };

    Ok(quote! {
        #[allow(non_camel_case_types)]
        #[doc(hidden)]
        #vis struct #fn_ident {}

        impl ::reprise_sdk::Function for #fn_ident {
            const NAME: &'static str = #name;

            fn call_json(
                #input: &[u8],
            ) -> ::core::result::Result<::std::vec::Vec<u8>, ::reprise_sdk::Error> {
                #body
            }
        }

        impl #fn_ident {
            #[doc = #dispatch_doc]
            #[allow(dead_code)]
            #vis fn dispatch #dispatch_generics (#dispatch_params) -> ::reprise_sdk::Handle<#output_ty>
            #dispatch_bound
            {
                ::reprise_sdk::__private::dispatch(#name, #dispatch_input, false)
            }

            #[doc = #detached_doc]
            #[allow(dead_code)]
            #vis fn dispatch_detached #dispatch_generics (#dispatch_params) -> ::reprise_sdk::Handle<#output_ty>
            #dispatch_bound
            {
                ::reprise_sdk::__private::dispatch(#name, #dispatch_input, true)
            }
        }
    })
}

/// The type a function's output decodes to: `T` of `Result<T, E>`, the return type itself,
/// or `()`.
fn output_type(output: &ReturnType) -> TokenStream2 {
    let ReturnType::Type(_, ty) = output else {
        return quote! { () };
    };
    if returns_result(output) {
        let mut inner = &**ty;
        while let Type::Group(group) = inner {
            inner = &group.elem;
        }
        if let Type::Path(path) = inner
            && let Some(segment) = path.path.segments.last()
            && let syn::PathArguments::AngleBracketed(args) = &segment.arguments
            && let Some(syn::GenericArgument::Type(ok)) = args.args.first()
        {
            return quote! { #ok };
        }
    }
    quote! { #ty }
}

/// Whether the return type's last path segment is `Result` (`Result<T, E>`,
/// `std::result::Result<T, E>`, `reprise_sdk::Result<T>`, `io::Result<T>`, ...).
fn returns_result(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let mut ty = &**ty;
    while let Type::Group(group) = ty {
        ty = &group.elem;
    }
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Result"),
        _ => false,
    }
}
