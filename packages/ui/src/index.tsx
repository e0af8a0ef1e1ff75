// @portcullis/ui: small presentational components, styled with Tailwind utilities (the app's CSS scans this folder).
export { cn } from "./cn.ts";
export { Button, type TButtonProps } from "./button.tsx";
export { Badge, type TBadgeTone } from "./badge.tsx";
export { Card } from "./card.tsx";
export { Input, Select, Textarea } from "./field.tsx";
export { Alert, EmptyState, Spinner } from "./feedback.tsx";
