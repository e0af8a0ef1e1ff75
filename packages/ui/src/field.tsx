import {
  useId,
  type InputHTMLAttributes,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
} from "react";
import { cn } from "./cn.ts";

const control =
  "block w-full rounded-md border border-slate-300 bg-white px-3 text-sm text-slate-900 shadow-xs placeholder:text-slate-400 focus:border-sky-600 focus:outline-2 focus:outline-sky-600/30 disabled:bg-slate-50";

interface TFieldProps {
  label: string;
  /** Keeps the label for screen readers but hides it, for compact toolbars. */
  hideLabel?: boolean;
}

export function Input({
  label,
  hideLabel,
  className,
  id,
  ...props
}: TFieldProps & InputHTMLAttributes<HTMLInputElement>) {
  const generated = useId();
  const inputId = id ?? generated;
  return (
    <div className={className}>
      <label
        htmlFor={inputId}
        className={cn("mb-1 block text-sm font-medium text-slate-700", hideLabel && "sr-only")}
      >
        {label}
      </label>
      <input id={inputId} className={cn(control, "h-10")} {...props} />
    </div>
  );
}

export function Select({
  label,
  hideLabel,
  className,
  id,
  children,
  ...props
}: TFieldProps & SelectHTMLAttributes<HTMLSelectElement>) {
  const generated = useId();
  const selectId = id ?? generated;
  return (
    <div className={className}>
      <label
        htmlFor={selectId}
        className={cn("mb-1 block text-sm font-medium text-slate-700", hideLabel && "sr-only")}
      >
        {label}
      </label>
      <select id={selectId} className={cn(control, "h-10 pr-8")} {...props}>
        {children}
      </select>
    </div>
  );
}

export function Textarea({
  label,
  hideLabel,
  className,
  id,
  ...props
}: TFieldProps & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const generated = useId();
  const textareaId = id ?? generated;
  return (
    <div className={className}>
      <label
        htmlFor={textareaId}
        className={cn("mb-1 block text-sm font-medium text-slate-700", hideLabel && "sr-only")}
      >
        {label}
      </label>
      <textarea id={textareaId} className={cn(control, "py-2 font-mono text-xs")} {...props} />
    </div>
  );
}
